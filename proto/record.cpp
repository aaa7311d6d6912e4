// CSV records with a CRC-32 per row (see record.hpp).
//
// The parser is strict about what our writer produces (a quote only opens a field, CR only
// inside quotes, the checksum as exactly 8 lower-case hex digits), so garbage is rejected
// rather than read. A bad row is a torn tail unless some good row follows it; then it is
// corruption, and the caller must refuse the file rather than drop decrees silently.
#include "proto/record.hpp"

#include <cstring>

#include <zlib.h>

namespace parliament {

namespace {

// One vectorised scan per character that needs quoting: find_first_of would call memchr once
// per character of the field (the hottest spot in a priest with 16 KiB decrees).
bool needs_quotes(std::string_view f) {
  if (f.empty()) return false;  // (memchr may not be given a null pointer)
  for (char special : {',', '"', '\r', '\n'})
    if (std::memchr(f.data(), special, f.size())) return true;
  return false;
}

void append_field(std::string& out, std::string_view f) {
  if (!needs_quotes(f)) {
    out.append(f);
    return;
  }
  out.push_back('"');
  for (char c : f) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

uint32_t crc_of(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

std::string hex8(uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) s[i] = digits[v & 0xf];
  return s;
}

enum class RowState { Good, Bad, Incomplete };

struct Row {
  RowState state = RowState::Good;
  std::vector<std::string> fields;
  size_t last_field_start = 0;  // offset of the last field's first byte
  size_t end = 0;               // offset just past the row's "\n"
  std::string why;              // for Bad and Incomplete
};

// Splits the row beginning at `pos` into fields (quotes removed, doubled quotes undone).
Row split_row(std::string_view d, size_t pos) {
  Row r;
  size_t i = pos;
  while (true) {
    r.last_field_start = i;
    std::string field;
    if (i < d.size() && d[i] == '"') {
      ++i;
      while (true) {
        if (i >= d.size()) {
          r.state = RowState::Incomplete;
          r.why = "unterminated quoted field";
          r.end = d.size();
          return r;
        }
        if (d[i] == '"') {
          if (i + 1 < d.size() && d[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          if (i + 1 >= d.size()) {  // the quote may be doubled by bytes not yet written
            r.state = RowState::Incomplete;
            r.why = "row ends inside a quoted field";
            r.end = d.size();
            return r;
          }
          ++i;
          break;
        }
        field.push_back(d[i++]);
      }
      if (d[i] != ',' && d[i] != '\n') {
        r.state = RowState::Bad;
        r.why = "text after a closing quote";
      }
    } else {
      size_t start = i;
      while (i < d.size() && d[i] != ',' && d[i] != '\n') {
        if (d[i] == '"' || d[i] == '\r') {
          r.state = RowState::Bad;
          r.why = "quote or CR in an unquoted field";
        }
        ++i;
      }
      field.assign(d.substr(start, i - start));
      if (i >= d.size()) {
        r.state = RowState::Incomplete;
        r.why = "last row has no newline";
        r.end = d.size();
        return r;
      }
    }
    r.fields.push_back(std::move(field));
    if (r.state == RowState::Bad) {  // skip to the next newline, the most likely row end
      size_t nl = d.find('\n', i);
      if (nl == std::string_view::npos) {
        r.state = RowState::Incomplete;
        r.end = d.size();
      } else {
        r.end = nl + 1;
      }
      return r;
    }
    if (d[i] == '\n') {
      r.end = i + 1;
      return r;
    }
    ++i;  // the comma
  }
}

// A data row: the fields, then the checksum over the bytes before the comma preceding it.
Row parse_row(std::string_view d, size_t pos, size_t fields_per_record, bool verify = true) {
  Row r = split_row(d, pos);
  if (r.state != RowState::Good) return r;
  auto bad = [&](std::string why) {
    r.state = RowState::Bad;
    r.why = std::move(why);
    return r;
  };
  if (r.fields.size() != fields_per_record + 1)
    return bad("row has " + std::to_string(r.fields.size()) + " fields, expected " +
               std::to_string(fields_per_record + 1));
  const std::string& sum = r.fields.back();
  if (sum.size() != 8 || sum.find_first_not_of("0123456789abcdef") != std::string::npos ||
      r.last_field_start != r.end - 9)
    return bad("checksum field is not 8 lower-case hex digits");
  if (verify && sum != hex8(crc_of(d.substr(pos, r.last_field_start - 1 - pos))))
    return bad("checksum mismatch");
  r.fields.pop_back();
  return r;
}

}  // namespace

void append_record(std::string& out, const std::vector<std::string>& fields) {
  size_t start = out.size();
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_field(out, fields[i]);
  }
  uint32_t crc = crc_of(std::string_view(out).substr(start));
  out.push_back(',');
  out.append(hex8(crc));
  out.push_back('\n');
}

void append_header(std::string& out, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    append_field(out, names[i]);
  }
  out.push_back('\n');
}

// valid_bytes counts bytes of `data` (base not added): the caller truncates to base+valid_bytes.
ParsedRecords parse_records(std::string_view data, size_t fields_per_record, size_t base,
                            bool verify_checksums) {
  ParsedRecords out;
  size_t pos = 0;
  while (pos < data.size()) {
    Row r = parse_row(data, pos, fields_per_record, verify_checksums);
    if (r.state == RowState::Good) {
      out.records.push_back(std::move(r.fields));
      out.offsets.push_back(base + pos);
      pos = r.end;
      out.valid_bytes = pos;
      continue;
    }
    // A bad row: corruption if any good row begins at a later line start, else a torn tail.
    for (size_t nl = data.find('\n', pos); nl != std::string_view::npos && nl + 1 < data.size();
         nl = data.find('\n', nl + 1)) {
      if (parse_row(data, nl + 1, fields_per_record).state == RowState::Good) {
        out.corrupt = "bad record at byte offset " + std::to_string(base + pos) + " (" + r.why +
                      ") followed by a good record at byte offset " +
                      std::to_string(base + nl + 1);
        return out;
      }
    }
    out.torn = r.why + " at byte offset " + std::to_string(base + pos);
    return out;
  }
  return out;
}

RecordAt parse_record_at(std::string_view data, size_t pos, size_t fields_per_record,
                         bool verify_checksum) {
  RecordAt out;
  Row r = parse_row(data, pos, fields_per_record, verify_checksum);
  out.why = std::move(r.why);
  out.end = r.end;
  switch (r.state) {
    case RowState::Good:
      out.state = RecordAt::State::Good;
      out.fields = std::move(r.fields);
      break;
    case RowState::Bad:
      out.state = RecordAt::State::Bad;
      break;
    case RowState::Incomplete:
      out.state = RecordAt::State::Incomplete;
      break;
  }
  return out;
}

size_t parse_header(std::string_view data, std::vector<std::string>& names) {
  Row r = split_row(data, 0);
  if (r.state != RowState::Good) return 0;
  names = std::move(r.fields);
  return r.end;
}

}  // namespace parliament
