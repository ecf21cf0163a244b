//===- ProgressDisplay.h - The progress line of awqc quantize -------------===//
//
// On a terminal, one line rewritten in place (at most ten times a second)
// shows the group, stage, percentage and time left. Elsewhere (a log file, a
// CI job) a carriage-return line would be noise, so one plain line is
// printed per finished input group.
//
//===----------------------------------------------------------------------===//
#ifndef AWQ_COMPILER_COMMANDS_PROGRESSDISPLAY_H
#define AWQ_COMPILER_COMMANDS_PROGRESSDISPLAY_H

#include "compiler/quantize/QuantizeModel.h"

#include <chrono>
#include <ostream>

namespace awq {

class ProgressDisplay {
public:
  /// `terminal`: rewrite one line; else plain lines. `width` bounds the
  /// terminal line (0: ask the terminal on stderr, default 100).
  ProgressDisplay(std::ostream &err, bool terminal, int width = 0);
  ~ProgressDisplay();

  void update(const ModelProgress &progress);
  /// Clears the terminal line so what follows starts on a clean line.
  void finish();

private:
  void draw(const std::string &line);

  std::ostream &err_;
  bool terminal_;
  int width_;
  bool lineShown_ = false;
  std::chrono::steady_clock::time_point start_, lastDraw_;
};

/// "1:02:03", "4:05" or "7s".
std::string formatDuration(double seconds);

} // namespace awq

#endif // AWQ_COMPILER_COMMANDS_PROGRESSDISPLAY_H
