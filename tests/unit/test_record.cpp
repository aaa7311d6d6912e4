// Checksummed CSV records: round trip of nasty text, torn tails at every cut, corruption.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstdio>

#include "proto/record.hpp"

using namespace parliament;

namespace {

using Fields = std::vector<std::string>;

std::string crc_hex(const std::string& s) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08lx",
                crc32(0, reinterpret_cast<const Bytef*>(s.data()), static_cast<uInt>(s.size())));
  return buf;
}

std::vector<Fields> nasty_records() {
  return {
      {"1", "a,b", "say \"aye\""},
      {"2", "line one\nline two", "cr\ronly"},
      {"3", "crlf\r\nend", ""},
      {"4", "\"", ",,,"},
      {"5", "Παξός ≠ 🫒", "\n"},
      {"6", std::string(10 * 1024, 'x') + "\"\n,", "tail"},
  };
}

std::string encode_all(const std::vector<Fields>& rows) {
  std::string out;
  for (const auto& r : rows) append_record(out, r);
  return out;
}

}  // namespace

TEST_CASE("a record is an RFC 4180 row with a CRC-32 of the bytes before its last comma",
          "[record]") {
  std::string out;
  append_record(out, {"7", "a,b", "say \"hi\""});
  std::string row = "7,\"a,b\",\"say \"\"hi\"\"\"";
  CHECK(out == row + "," + crc_hex(row) + "\n");
  std::string h;
  append_header(h, {"decree_no", "ballot", "crc32"});
  CHECK(h == "decree_no,ballot,crc32\n");
}

TEST_CASE("records with nasty text round trip", "[record]") {
  auto rows = nasty_records();
  std::string data = encode_all(rows);
  auto p = parse_records(data, 3, 100);
  CHECK(p.torn.empty());
  CHECK(p.corrupt.empty());
  CHECK(p.valid_bytes == data.size());
  REQUIRE(p.records == rows);
  REQUIRE(p.offsets.size() == rows.size());
  CHECK(p.offsets[0] == 100);
  // Each offset is where the re-encoded record begins.
  std::string prefix;
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(p.offsets[i] == 100 + prefix.size());
    append_record(prefix, rows[i]);
  }
}

TEST_CASE("header rows split into names", "[record]") {
  std::vector<std::string> names;
  CHECK(parse_header("a,b,c\nrest", names) == 6);
  CHECK(names == std::vector<std::string>{"a", "b", "c"});
  CHECK(parse_header("a,b,c", names) == 0);
  CHECK(parse_header("", names) == 0);
  CHECK(parse_header("\"a\nb\",c\n", names) == 8);
  CHECK(names == std::vector<std::string>{"a\nb", "c"});
}

TEST_CASE("a cut at every byte yields exactly the complete prefix", "[record]") {
  std::vector<Fields> rows = {{"1", "first, \"quoted\"", "x"},
                              {"2", "multi\nline\r\ntext", "\""},
                              {"3", "Παξός", ""}};
  std::string data = encode_all(rows);
  std::vector<size_t> ends;
  {
    std::string s;
    for (const auto& r : rows) {
      append_record(s, r);
      ends.push_back(s.size());
    }
  }
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    INFO("cut at " << cut << " of " << data.size());
    auto p = parse_records(std::string_view(data).substr(0, cut), 3);
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    CHECK(p.corrupt.empty());
    REQUIRE(p.records.size() == complete);
    for (size_t i = 0; i < complete; ++i) CHECK(p.records[i] == rows[i]);
    size_t valid = complete == 0 ? 0 : ends[complete - 1];
    CHECK(p.valid_bytes == valid);
    CHECK(p.torn.empty() == (cut == valid));
  }
}

TEST_CASE("a bad last row is a torn tail; a bad middle row is corruption", "[record]") {
  auto rows = nasty_records();
  std::string data = encode_all(rows);
  std::string first_two;
  append_record(first_two, rows[0]);
  append_record(first_two, rows[1]);
  size_t last_start = data.size() - [&] {
    std::string s;
    append_record(s, rows.back());
    return s.size();
  }();

  SECTION("checksum digit flipped in the last row") {
    std::string d = data;
    char& c = d[d.size() - 2];
    c = c == '0' ? '1' : '0';
    auto p = parse_records(d, 3);
    CHECK(p.corrupt.empty());
    CHECK_FALSE(p.torn.empty());
    CHECK(p.records.size() == rows.size() - 1);
    CHECK(p.valid_bytes == last_start);
  }
  SECTION("text byte flipped in the last row") {
    std::string d = data;
    d[last_start + 5] ^= 1;
    auto p = parse_records(d, 3);
    CHECK(p.corrupt.empty());
    CHECK_FALSE(p.torn.empty());
    CHECK(p.valid_bytes == last_start);
  }
  SECTION("missing newline at the end") {
    auto p = parse_records(std::string_view(data).substr(0, data.size() - 1), 3);
    CHECK_FALSE(p.torn.empty());
    CHECK(p.records.size() == rows.size() - 1);
  }
  SECTION("wrong field count on the last row") {
    std::string d = first_two;
    append_record(d, {"only", "two"});
    auto p = parse_records(d, 3);
    CHECK(p.corrupt.empty());
    CHECK_FALSE(p.torn.empty());
    CHECK(p.records.size() == 2);
    CHECK(p.valid_bytes == first_two.size());
  }
  SECTION("garbage lines after a cut record are still a torn tail") {
    std::string d = first_two + "3,\"half a rec" + "\nzz\n\"\"\"\n,,,\n" + std::string(3, '\0');
    auto p = parse_records(d, 3);
    CHECK(p.corrupt.empty());
    CHECK_FALSE(p.torn.empty());
    CHECK(p.records.size() == 2);
    CHECK(p.valid_bytes == first_two.size());
  }
  SECTION("checksum flipped in a middle row") {
    std::string d = data;
    size_t nl = d.find('\n', 0);  // end of row 0; row 1's checksum ends before the next '\n'
    size_t row1_end = first_two.size();
    REQUIRE(nl < row1_end);
    char& c = d[row1_end - 2];
    c = c == 'a' ? 'b' : 'a';
    auto p = parse_records(d, 3, 1000);
    CHECK_FALSE(p.corrupt.empty());
    CHECK(p.corrupt.find(std::to_string(1000 + nl + 1)) != std::string::npos);  // names offset
  }
  SECTION("a quote flipped into a middle row does not swallow the rows after it") {
    std::string d = data;
    d[0] = '"';  // row 0 becomes ","a,b",...: a quoted field with text after its close
    auto p = parse_records(d, 3);
    CHECK_FALSE(p.corrupt.empty());
  }
  SECTION("a row with the wrong field count in the middle") {
    std::string d;
    append_record(d, rows[0]);
    append_record(d, {"x"});
    append_record(d, rows[2]);
    auto p = parse_records(d, 3);
    CHECK_FALSE(p.corrupt.empty());
  }
}
