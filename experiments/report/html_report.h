// `scorelab report <run | sweep | compare directory>`: one self-contained HTML page — every
// figure embedded (PNG as base64), the result tables (sortable by clicking a column), the
// resolved config and the provenance (versions, device, threads, amendments) — that opens
// offline in any browser. Written atomically to <dir>/report.html or to `out`.
#pragma once
#include <string>

namespace scorelab {

// What kind of directory `dir` is: "run" (log.h5), "sweep" (sweep.h5) or "compare"
// (compare.h5); throws DataError naming the directory otherwise.
std::string report_kind(const std::string& dir);

// Writes the page and returns its path. `out` empty: <dir>/report.html (replaced if present);
// an explicit `out` that exists is refused unless `force`.
std::string write_report(const std::string& dir, const std::string& out = "", bool force = false);

int command_report(const std::string& dir, const std::string& out, bool force);

// RFC 4648 base64 (tests).
std::string base64(const std::string& bytes);

}  // namespace scorelab
