// Create/open/close loops over the core's segment paths, for the ASan/LSan variant of the
// native suite (the addon's create/open/close paths sit on exactly these): regions of every
// size class created, opened by a second handle and dropped, and owner tables opened, claimed
// and released, thousands of times. Afterwards this process holds no more file descriptors
// and no more /dev/shm mappings than before, and LeakSanitizer (detect_leaks=1) sees no heap
// leak at exit. Every segment it creates is unlinked. Run by ctest, plain and under sanitizers.
#include <dirent.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "check.h"
#include "owner-table.h"
#include "shm-region.h"

using shmsync::Kind;
using shmsync::OpenMode;
using shmsync::OwnerId;
using shmsync::OwnerTable;
using shmsync::ShmRegion;
using shmsync::Status;

namespace {

constexpr int kRounds = 5000;

std::string TestName(const char* tag) {
  return "shmsync-ctest-lifecycle-" + std::string(tag) + "-" + std::to_string(getpid());
}

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  CHECK(d != nullptr);
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

int ShmMappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    if (line.find("/dev/shm/") != std::string::npos) ++n;
  }
  return n;
}

void RegionsCreateOpenClose() {
  const uint64_t sizes[] = {1, 64, 4096, 4097, 1 << 20};
  const std::string name = TestName("region");
  for (int i = 0; i < kRounds; ++i) {
    const uint64_t size = sizes[i % 5];
    std::shared_ptr<ShmRegion> a, b;
    bool created = false;
    CHECK(ShmRegion::Acquire(name, Kind::kRaw, size, OpenMode::kCreate, 0600, nullptr, nullptr, &a,
                             &created)
              .ok());
    CHECK(created);
    CHECK(ShmRegion::Acquire(name, Kind::kRaw, size, OpenMode::kOpenOrCreate, 0600, nullptr,
                             nullptr, &b, &created)
              .ok());
    CHECK(!created);
    a->payload()[size - 1] = static_cast<uint8_t>(i);
    CHECK_EQ(b->payload()[size - 1], static_cast<uint8_t>(i));
    // Refused opens must not leak what they opened before refusing.
    std::shared_ptr<ShmRegion> c;
    CHECK_EQ(ShmRegion::Acquire(name, Kind::kMutex, 0, OpenMode::kOpen, 0, nullptr, nullptr, &c,
                                &created)
                 .status,
             Status::kKindMismatch);
    CHECK_EQ(ShmRegion::Acquire(name, Kind::kRaw, size + 1, OpenMode::kOpen, 0, nullptr, nullptr,
                                &c, &created)
                 .status,
             Status::kSizeMismatch);
    CHECK(ShmRegion::Unlink(name).ok());
    // The mapping outlives the name; dropping the last handle unmaps.
    CHECK_EQ(a->payload()[size - 1], static_cast<uint8_t>(i));
  }
}

void OwnerTablesOpenClaimRelease() {
  const std::string name = TestName("owners");
  for (int i = 0; i < kRounds / 10; ++i) {
    std::shared_ptr<OwnerTable> table;
    CHECK(OwnerTable::Open(name, &table).ok());
    OwnerId id{};
    CHECK(table->Claim(&id).ok());
    table->Release(id);
    if (i % 2 == 1) CHECK(ShmRegion::Unlink(name).ok());
  }
  ShmRegion::Unlink(name);
}

}  // namespace

int main() {
  // Warm up once: first-use allocations (stdio, locale) are not leaks.
  RegionsCreateOpenClose();
  const int fds = OpenFds();
  const int mappings = ShmMappings();
  RUN(RegionsCreateOpenClose);
  RUN(OwnerTablesOpenClaimRelease);
  CHECK_EQ(OpenFds(), fds);
  CHECK_EQ(ShmMappings(), mappings);
  CHECK_EQ(mappings, 0);
  return 0;
}
