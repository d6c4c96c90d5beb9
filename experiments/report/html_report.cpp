#include "experiments/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/h5log.h"

namespace scorelab {
namespace fs = std::filesystem;

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string attr_or(const std::string& file, const std::string& object, const std::string& name, const std::string& def) {
  try {
    return RunLog::read_attr(file, object, name);
  } catch (const std::exception&) {
    return def;
  }
}

// A table of an HDF5 file (one dataset per column, order in group@columns) as a sortable HTML
// table: numbers right-aligned with their value in data-v for sorting.
std::string table_html(const std::string& file, const std::string& group) {
  const std::vector<std::string> names = RunLog::read_table_columns(file, group);
  std::vector<std::vector<std::string>> cells(names.size());
  std::vector<std::vector<double>> values(names.size());
  size_t rows = 0;
  for (size_t c = 0; c < names.size(); ++c) {
    try {
      values[c] = RunLog::read_column(file, group + "/" + names[c]);
      for (double v : values[c]) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", v);
        cells[c].push_back(std::isnan(v) ? "" : buf);
      }
    } catch (const std::exception&) {
      cells[c] = RunLog::read_strings(file, group + "/" + names[c]);
    }
    rows = std::max(rows, cells[c].size());
  }
  std::ostringstream h;
  h << "<table class=\"sortable\"><thead><tr>";
  for (const auto& n : names) h << "<th title=\"click to sort\">" << esc(n) << "</th>";
  h << "</tr></thead><tbody>\n";
  for (size_t r = 0; r < rows; ++r) {
    h << "<tr>";
    for (size_t c = 0; c < names.size(); ++c) {
      const std::string text = r < cells[c].size() ? cells[c][r] : "";
      if (!values[c].empty() && r < values[c].size())
        h << "<td class=\"num\" data-v=\"" << (std::isnan(values[c][r]) ? std::string("") : cells[c][r]) << "\">" << text
          << "</td>";
      else
        h << "<td>" << esc(text) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</tbody></table>\n";
  return h.str();
}

std::string figure_html(const std::string& png, const std::string& caption) {
  return "<figure><img alt=\"" + esc(caption) + "\" src=\"data:image/png;base64," + base64(read_text(png)) +
         "\"><figcaption>" + esc(caption) + "</figcaption></figure>\n";
}

std::string provenance_html(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string h = "<table class=\"kv\">";
  for (const auto& [k, v] : rows)
    if (!v.empty()) h += "<tr><th>" + esc(k) + "</th><td>" + esc(v) + "</td></tr>";
  return h + "</table>\n";
}

const char* kStyle = R"(
body{font-family:"DejaVu Sans",sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 7px;white-space:nowrap}
table.sortable th{cursor:pointer;background:#f3f3f3;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.kv th{text-align:left;background:#f7f7f7}figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}pre{background:#f7f7f7;padding:1em;overflow:auto;font-size:.85em}
.scroll{max-height:32em;overflow:auto}
)";

// Click a header to sort by it (numbers by value, text alphabetically), again to reverse.
// On load: body@data-ready, and body@data-images = the images that decoded.
const char* kScript = R"(
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),dir=th.dataset.dir==='asc'?-1:1;
      th.dataset.dir=dir===1?'asc':'desc';
      rows.sort(function(a,b){
        var x=a.cells[i],y=b.cells[i];
        if(x.dataset.v!==undefined&&y.dataset.v!==undefined){
          var p=parseFloat(x.dataset.v),q=parseFloat(y.dataset.v);
          if(isNaN(p))return 1;if(isNaN(q))return -1;return dir*(p-q);}
        return dir*x.textContent.localeCompare(y.textContent);});
      rows.forEach(function(r){body.appendChild(r);});});});});
document.body.dataset.ready='1';
window.addEventListener('load',function(){
  var n=0;document.querySelectorAll('img').forEach(function(im){if(im.complete&&im.naturalWidth>0)n++;});
  document.body.dataset.images=String(n);
  document.body.dataset.tables=String(document.querySelectorAll('table.sortable').length);});
)";

}  // namespace

std::string base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(bytes[i])} << 16) | (uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += {k[v >> 18], k[(v >> 12) & 63], k[(v >> 6) & 63], k[v & 63]};
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (i + 1 < bytes.size()) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string report_kind(const std::string& dir) {
  if (!fs::is_directory(dir)) throw DataError(dir + ": not a directory (give a run, sweep or compare directory)");
  if (fs::exists(dir + "/log.h5")) return "run";
  if (fs::exists(dir + "/sweep.h5")) return "sweep";
  if (fs::exists(dir + "/compare.h5")) return "compare";
  throw DataError(dir + ": no log.h5, sweep.h5 or compare.h5: not a run, sweep or compare directory");
}

std::string write_report(const std::string& dir_in, const std::string& out_in, bool force) {
  const std::string dir = fs::path(dir_in).lexically_normal().string();
  const std::string kind = report_kind(dir);
  const std::string out = out_in.empty() ? dir + "/report.html" : out_in;
  if (!out_in.empty() && fs::exists(out) && !force)
    throw DataError(out + ": exists; pass --force to overwrite it, or choose another -o");
  std::ostringstream body;
  std::string title, config;
  std::vector<std::pair<std::string, std::string>> prov;
  char when[64];
  const std::time_t now = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
  if (kind == "run") {
    const std::string log = dir + "/log.h5";
    title = "run " + attr_or(log, "/", "name", fs::path(dir).filename().string());
    prov = {{"directory", dir},
            {"scorelab", attr_or(log, "/", "scorelab_version", "")},
            {"LibTorch", attr_or(log, "/", "torch_version", "")},
            {"HDF5", attr_or(log, "/", "hdf5_version", "")},
            {"device", attr_or(log, "/", "device", "")},
            {"threads", attr_or(log, "/", "threads", "")},
            {"amendments (train.allow_changes)", attr_or(log, "/", "amendments", "")}};
    config = fs::exists(dir + "/config.yaml") ? read_text(dir + "/config.yaml") : attr_or(log, "/", "config", "");
    body << "<h2>Figures</h2>\n";
    std::vector<std::string> steps;
    if (fs::is_directory(dir + "/samples"))
      for (const auto& e : fs::directory_iterator(dir + "/samples"))
        if (e.path().extension() == ".png" && e.path().filename().string().rfind("step_", 0) == 0)
          steps.push_back(e.path().string());
    std::sort(steps.begin(), steps.end());
    for (const auto& [file, caption] :
         std::vector<std::pair<std::string, std::string>>{{"final.png", "data beside samples at the end of training"},
                                                          {"loss.png", "the training loss and the error by noise level"},
                                                          {"metrics.png", "evaluation metrics during training"}})
      if (fs::exists(dir + "/samples/" + file)) body << figure_html(dir + "/samples/" + file, caption);
    if (!steps.empty()) body << figure_html(steps.back(), "the last evaluation during training: " + fs::path(steps.back()).stem().string());
    body << "<h2>Evaluations (/eval)</h2>\n<div class=\"scroll\">" << table_html(log, "eval") << "</div>\n";
    body << "<h2>Training (/train, one row per log interval)</h2>\n<details><summary>show the table</summary><div class=\"scroll\">"
         << table_html(log, "train") << "</div></details>\n";
  } else if (kind == "sweep") {
    const std::string h5 = dir + "/sweep.h5";
    title = "sweep " + attr_or(h5, "/", "sweep", dir);
    prov = {{"directory", dir}, {"sweep file", attr_or(h5, "/", "sweep", "")}, {"base config", attr_or(h5, "/", "base", "")}};
    const std::string base = attr_or(h5, "/", "base", "");
    const std::string sweep_file = attr_or(h5, "/", "sweep", "");
    if (fs::exists(sweep_file)) config += "# " + sweep_file + "\n" + read_text(sweep_file);
    if (fs::exists(base)) config += "\n# " + base + "\n" + read_text(base);
    body << "<h2>Points (/points)</h2>\n<div class=\"scroll\">" << table_html(h5, "points") << "</div>\n";
    if (attr_or(h5, "cells", "columns", "").size())
      body << "<h2>Mean and sd over seeds (/cells)</h2>\n<div class=\"scroll\">" << table_html(h5, "cells") << "</div>\n";
    body << "<h2>Samples of each finished point</h2>\n";
    for (const auto& run : RunLog::read_strings(h5, "points/run")) {
      const std::string png = dir + "/" + run + "/samples/final.png";
      if (fs::exists(png)) body << figure_html(png, run);
    }
  } else {
    const std::string h5 = dir + "/compare.h5";
    title = "compare " + attr_or(h5, "/", "source", dir);
    prov = {{"directory", dir}, {"source", attr_or(h5, "/", "source", "")}, {"quality", attr_or(h5, "/", "quality", "")}};
    config = attr_or(h5, "/", "compare_config", "");
    body << "<h2>Figures</h2>\n";
    for (const auto& [file, caption] : std::vector<std::pair<std::string, std::string>>{
             {"quality_vs_nfe.png", "sample quality against NFE, ± one standard error over the repeats"},
             {"samples.png", "samples of every sampler setting from the same x_T"}})
      if (fs::exists(dir + "/" + file)) body << figure_html(dir + "/" + file, caption);
    body << "<h2>Table (/compare)</h2>\n<div class=\"scroll\">" << table_html(h5, "compare") << "</div>\n";
  }
  prov.push_back({"report written", std::string(when) + " by scorelab " SCORELAB_VERSION});
  std::ostringstream page;
  page << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << esc(title)
       << "</title>\n<style>" << kStyle << "</style></head>\n<body>\n<h1>" << esc(title) << "</h1>\n<h2>Provenance</h2>\n"
       << provenance_html(prov) << body.str() << "<h2>Resolved config</h2>\n<pre>" << esc(config) << "</pre>\n<script>"
       << kScript << "</script>\n</body></html>\n";
  atomic_write_text(out, page.str());
  return out;
}

int command_report(const std::string& dir, const std::string& out, bool force) {
  const std::string path = write_report(dir, out, force);
  std::cout << "wrote " << path << " (" << report_kind(dir) << " report, self-contained: open it in a browser)\n";
  return 0;
}

}  // namespace scorelab
