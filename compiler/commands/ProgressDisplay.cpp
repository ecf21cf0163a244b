//===- ProgressDisplay.cpp - The progress line of awqc quantize -----------===//

#include "compiler/commands/ProgressDisplay.h"

#include "compiler/commands/Inspect.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <sstream>

namespace awq {

namespace {

/// Redraws faster than this are invisible and cost terminal time.
constexpr std::chrono::milliseconds kRedrawInterval(100);

int terminalWidth() {
  struct winsize size = {};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20)
    return size.ws_col;
  return 100;
}

} // namespace

std::string formatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0)
    return "?";
  const long total = std::lround(seconds);
  char buffer[32];
  if (total < 60)
    std::snprintf(buffer, sizeof(buffer), "%lds", total);
  else if (total < 3600)
    std::snprintf(buffer, sizeof(buffer), "%ld:%02ld", total / 60, total % 60);
  else
    std::snprintf(buffer, sizeof(buffer), "%ld:%02ld:%02ld", total / 3600,
                  total / 60 % 60, total % 60);
  return buffer;
}

ProgressDisplay::ProgressDisplay(std::ostream &err, bool terminal, int width)
    : err_(err), terminal_(terminal),
      width_(width > 0 ? width : (terminal ? terminalWidth() : 100)),
      start_(std::chrono::steady_clock::now()), lastDraw_() {}

ProgressDisplay::~ProgressDisplay() { finish(); }

void ProgressDisplay::draw(const std::string &line) {
  std::string text = line;
  if (static_cast<int>(text.size()) > width_ - 1)
    text = text.substr(0, static_cast<size_t>(width_ - 4)) + "...";
  // \r then "erase to end of line": a shorter line leaves no debris.
  err_ << "\r\033[K" << text << std::flush;
  lineShown_ = true;
}

void ProgressDisplay::update(const ModelProgress &progress) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const int percent = static_cast<int>(std::floor(progress.fraction * 100.0));
  if (progress.phase == ModelProgress::Phase::Planned) {
    finish();
    err_ << "awqc quantize: " << progress.groupCount
         << " input groups; working memory up to "
         << formatBytes(progress.workingMemoryBytes) << " (input group "
         << progress.groupName << ") besides the mapped input files\n";
    if (progress.resumedGroups > 0)
      err_ << "awqc quantize: resuming: " << progress.resumedGroups << " of "
           << progress.groupCount
           << " input groups were finished by the interrupted run\n";
    err_ << std::flush;
    return;
  }
  if (progress.phase == ModelProgress::Phase::Measuring) {
    std::ostringstream line;
    line << "awqc quantize: --target-bits: measuring group "
         << progress.group + 1 << "/" << progress.groupCount << " "
         << progress.groupName << " at 3, 4 and 8 bits";
    if (terminal_)
      draw(line.str());
    else
      err_ << line.str() << "\n" << std::flush;
    return;
  }
  if (!terminal_) {
    if (progress.phase == ModelProgress::Phase::GroupDone) {
      std::ostringstream line;
      line << "awqc quantize: [" << progress.group + 1 << "/"
           << progress.groupCount << "] " << progress.groupName << " done ("
           << percent << "%, " << formatDuration(elapsed) << ")\n";
      err_ << line.str() << std::flush;
    } else if (progress.phase == ModelProgress::Phase::Writing) {
      err_ << "awqc quantize: writing the checkpoint\n" << std::flush;
    }
    return;
  }
  const bool important = progress.phase != ModelProgress::Phase::Quantizing;
  if (!important && lineShown_ && now - lastDraw_ < kRedrawInterval)
    return;
  lastDraw_ = now;
  std::ostringstream line;
  line << "["
       << (percent < 10    ? "  "
           : percent < 100 ? " "
                           : "")
       << percent << "%] ";
  if (progress.phase == ModelProgress::Phase::Writing) {
    line << "writing the checkpoint";
  } else {
    line << "group " << std::min(progress.group + 1, progress.groupCount) << "/"
         << progress.groupCount << " " << progress.groupName << ": "
         << (progress.phase == ModelProgress::Phase::GroupDone
                 ? "done"
                 : stageName(progress.stage));
    if (!progress.layer.empty())
      line << " (" << progress.layer << ")";
  }
  line << "  " << formatDuration(elapsed);
  if (progress.fraction > 0.01 && progress.fraction < 1.0)
    line << ", about " << formatDuration(elapsed / progress.fraction - elapsed)
         << " left";
  draw(line.str());
}

void ProgressDisplay::finish() {
  if (terminal_ && lineShown_) {
    err_ << "\r\033[K" << std::flush;
    lineShown_ = false;
  }
}

} // namespace awq
