// CSV records with a checksum: the on-disk form of ledger.csv and votes.csv.
//
// Each record is one RFC 4180 row (fields quoted when they hold a comma, quote, CR or LF;
// quotes doubled inside), terminated by "\n". Its last field is the CRC-32 (zlib's, as 8
// lower-case hex digits) of every byte of the row before the comma that precedes it. A file
// begins with a header row, which carries no checksum.
//
// Pure: encoding and parsing of bytes; the files themselves are server/storage.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parliament {

// Appends one row: the fields, then their checksum, then "\n".
void append_record(std::string& out, const std::vector<std::string>& fields);
// Appends the header row (no checksum), then "\n".
void append_header(std::string& out, const std::vector<std::string>& names);

struct ParsedRecords {
  std::vector<std::vector<std::string>> records;  // fields without the checksum
  std::vector<size_t> offsets;                    // byte offset where each record begins
  size_t valid_bytes = 0;  // bytes up to the end of the last good record
  std::string torn;        // non-empty: the tail after valid_bytes is a torn write (why)
  std::string corrupt;     // non-empty: a bad record that is not at the tail (why): refuse
};

// Parses `data` that starts right after the header row; `base` is added to every offset.
// A last record that is incomplete or fails its checksum is a torn tail, reported in `torn`
// and excluded; a bad record followed by good ones is corruption.
// verify_checksums = false skips the checksum of good-looking rows (a caller that knows
// the bytes cannot hold a torn write); a bad row's search for later good rows still checks.
ParsedRecords parse_records(std::string_view data, size_t fields_per_record, size_t base = 0,
                            bool verify_checksums = true);

// One row of `data` beginning at `pos` (a row start), judged on its own: a recovery that has
// found a bad row uses it to look for good rows after it. Bad is final (bytes after `data`
// cannot make the row good: its "\n" is there); Incomplete means the row runs to the end of
// `data`, so more bytes might complete it.
struct RecordAt {
  enum class State { Good, Bad, Incomplete };
  State state = State::Incomplete;
  std::vector<std::string> fields;  // Good: the fields without the checksum
  size_t end = 0;   // Good and Bad: the offset just past the row's "\n"
  std::string why;  // Bad and Incomplete: what is wrong with it
};
RecordAt parse_record_at(std::string_view data, size_t pos, size_t fields_per_record,
                         bool verify_checksum = true);

// Splits the first row of `data` (the header) into fields; returns its length in bytes
// including the "\n", or 0 if there is no complete first row.
size_t parse_header(std::string_view data, std::vector<std::string>& names);

}  // namespace parliament
