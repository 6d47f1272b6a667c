// Test hook: see test-ledger.h. Runs on whatever thread creates a segment.
#include "test-ledger.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>

namespace shmsync {

namespace {

// The ledger path, read once per process (the first creation) and kept: a test changing the
// environment later does not redirect it. Empty = disabled.
const std::string& LedgerPath() {
  static const std::string path = [] {
    const char* env = std::getenv("SHMSYNC_TEST_LEDGER");
    return std::string(env != nullptr && env[0] == '/' ? env : "");
  }();
  return path;
}

}  // namespace

void RecordInLedger(LedgerMark mark, const std::string& segment_name) {
  const std::string& path = LedgerPath();
  if (path.empty()) return;
  // No O_CREAT: only a runner that made the file gets records.
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  std::string line;
  line.reserve(segment_name.size() + 2);
  line += static_cast<char>(mark);
  line += segment_name;
  line += '\n';
  // One write() per record: an O_APPEND write lands whole at the end of the file.
  const ssize_t written = write(fd, line.data(), line.size());
  (void)written;  // bookkeeping only (see header)
  close(fd);
}

}  // namespace shmsync
