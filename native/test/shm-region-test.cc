// Tests of native/core/shm-region: create/open/validate/unlink, and N forked processes racing
// to open-or-create one name. Run by ctest, plain and under ASan/UBSan and TSan.
#include "shm-region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "check.h"

using shmsync::Kind;
using shmsync::OpenMode;
using shmsync::Result;
using shmsync::ShmRegion;
using shmsync::Status;

namespace {

std::string TestName(const char* tag) {
  return "shmsync-ctest-" + std::string(tag) + "-" + std::to_string(getpid());
}

void FillPattern(uint8_t* payload, uint64_t size, const void* arg) {
  std::memset(payload, *static_cast<const int*>(arg), size);
}

void CreateOpenUnlink() {
  const std::string name = TestName("basic");
  std::shared_ptr<ShmRegion> a, b;
  bool created = false;
  const int pattern = 0x5a;
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 4096, OpenMode::kCreate, 0600, FillPattern, &pattern,
                           &a, &created)
            .ok());
  CHECK(created);
  CHECK_EQ(a->payload()[4095], 0x5a);
  // A second create fails; open sees the initialised payload.
  CHECK_EQ(ShmRegion::Acquire(name, Kind::kRaw, 4096, OpenMode::kCreate, 0600, nullptr, nullptr, &b,
                              &created)
               .status,
           Status::kExists);
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &b, &created)
            .ok());
  CHECK(!created);
  CHECK_EQ(b->payload_size(), 4096u);
  a->payload()[7] = 42;
  CHECK_EQ(b->payload()[7], 42);
  // Wrong kind / size are refused.
  std::shared_ptr<ShmRegion> c;
  CHECK_EQ(
      ShmRegion::Acquire(name, Kind::kMutex, 0, OpenMode::kOpen, 0, nullptr, nullptr, &c, &created)
          .status,
      Status::kKindMismatch);
  CHECK_EQ(
      ShmRegion::Acquire(name, Kind::kRaw, 100, OpenMode::kOpen, 0, nullptr, nullptr, &c, &created)
          .status,
      Status::kSizeMismatch);
  // Mode is exactly what was asked for, whatever the umask.
  struct stat st;
  CHECK_EQ(stat(("/dev/shm/" + name).c_str(), &st), 0);
  CHECK_EQ(st.st_mode & 0777, 0600u);
  CHECK(ShmRegion::Unlink(name).ok());
  CHECK_EQ(ShmRegion::Unlink(name).status, Status::kNotFound);
  CHECK_EQ(
      ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &c, &created)
          .status,
      Status::kNotFound);
}

void TruncatedAndCorruptSegments() {
  const std::string name = TestName("trunc");
  std::shared_ptr<ShmRegion> a, b;
  bool created = false;
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 8192, OpenMode::kCreate, 0600, nullptr, nullptr, &a,
                           &created)
            .ok());
  int fd = shm_open(("/" + name).c_str(), O_RDWR, 0);
  CHECK(fd >= 0);
  CHECK_EQ(ftruncate(fd, 4096), 0);  // someone else truncates: open must refuse, not SIGBUS
  CHECK_EQ(
      ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &b, &created)
          .status,
      Status::kCorrupt);
  CHECK_EQ(ftruncate(fd, 10), 0);
  CHECK_EQ(
      ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &b, &created)
          .status,
      Status::kCorrupt);
  close(fd);
  a.reset();
  CHECK(ShmRegion::Unlink(name).ok());
}

void RacingCreators() {
  const std::string name = TestName("race");
  constexpr int kProcs = 8;
  for (int round = 0; round < 20; ++round) {
    pid_t pids[kProcs];
    for (int i = 0; i < kProcs; ++i) {
      pids[i] = fork();
      if (pids[i] == 0) {
        std::shared_ptr<ShmRegion> r;
        bool created = false;
        const int pattern = 0x11;
        Result res = ShmRegion::Acquire(name, Kind::kRaw, 256, OpenMode::kOpenOrCreate, 0600,
                                        FillPattern, &pattern, &r, &created);
        // Whoever created it, the payload is fully initialised when we see it.
        _exit(res.ok() && r->payload()[255] == 0x11 ? (created ? 10 : 11) : 1);
      }
    }
    int creators = 0;
    for (int i = 0; i < kProcs; ++i) {
      int status = 0;
      CHECK_EQ(waitpid(pids[i], &status, 0), pids[i]);
      CHECK(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 10 || WEXITSTATUS(status) == 11);
      creators += WEXITSTATUS(status) == 10;
    }
    CHECK_EQ(creators, 1);
    CHECK(ShmRegion::Unlink(name).ok());
  }
}

// The native boundary refuses names that are not one file name in /dev/shm. Before this check a
// name with '/' was followed by the publication linkat (a segment created inside a directory, or
// outside /dev/shm through ".."), and a NUL silently named the segment before it.
void HostileNames() {
  const std::string dir = TestName("dir");
  const std::string dir_path = "/dev/shm/" + dir;
  CHECK_EQ(mkdir(dir_path.c_str(), 0700), 0);
  const std::string prefix = TestName("nul");
  const std::string bad[] = {
      dir + "/inner",                     // a path below /dev/shm
      "../" + TestName("up"),             // a path out of it
      prefix + std::string("\0tail", 5),  // embedded NUL
      std::string(256, 'a'),              // longer than NAME_MAX
      "",
      ".",
      "..",
  };
  for (const std::string& name : bad) {
    std::shared_ptr<ShmRegion> r;
    bool created = false;
    for (OpenMode mode : {OpenMode::kCreate, OpenMode::kOpenOrCreate, OpenMode::kOpen}) {
      Result res =
          ShmRegion::Acquire(name, Kind::kRaw, 64, mode, 0600, nullptr, nullptr, &r, &created);
      CHECK_EQ(res.status, Status::kSystem);
      CHECK_EQ(res.sys_errno, EINVAL);
      CHECK(!created);
    }
    CHECK_EQ(ShmRegion::Unlink(name).sys_errno, EINVAL);
  }
  struct stat st;
  CHECK(stat((dir_path + "/inner").c_str(), &st) != 0);   // nothing created in the dir
  CHECK(stat(("/dev/shm/" + prefix).c_str(), &st) != 0);  // nor under the truncated name
  CHECK_EQ(rmdir(dir_path.c_str()), 0);
}

}  // namespace

int main() {
  RUN(CreateOpenUnlink);
  RUN(TruncatedAndCorruptSegments);
  RUN(RacingCreators);
  RUN(HostileNames);
  return 0;
}
