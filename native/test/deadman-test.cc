// Tests of the owner table's deadmen (owner-table, deadman-list) and of who may own a segment:
// the kernel robust list is private and restored, a table rewritten by a hostile writer cannot
// steer the kernel's exit-time writes into this process's memory, several deadmen per thread,
// glibc's robust mutexes work again once a thread holds no deadman, and segments another uid
// owns (or an owner table with group/other bits, or of the old format) are refused.
// Run by ctest plain, under ASan/UBSan and under TSan.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "check.h"
#include "deadman-list.h"
#include "futex.h"
#include "owner-table.h"
#include "shm-region.h"

using namespace shmsync;

namespace {

std::string TestName(const char* tag) {
  return "ctest-dm-" + std::string(tag) + "-" + std::to_string(getpid());
}

// A private table (not the shared one) and a second, writable mapping of it for the "hostile
// writer" role.
struct Table {
  std::string segment;
  std::shared_ptr<OwnerTable> table;
  std::shared_ptr<ShmRegion> raw;
  OwnerTablePayload* payload() const {
    return reinterpret_cast<OwnerTablePayload*>(raw->payload());
  }
};

Table OpenTable(const char* tag) {
  Table t;
  t.segment = "shmsync-" + TestName(tag);
  CHECK(OwnerTable::Open(t.segment, &t.table).ok());
  bool created = false;
  CHECK(ShmRegion::Acquire(t.segment, Kind::kOwners, 0, OpenMode::kOpen, 0, nullptr, nullptr,
                           &t.raw, &created)
            .ok());
  return t;
}

void Close(Table& t) {
  t.raw.reset();
  t.table.reset();
  CHECK(ShmRegion::Unlink(t.segment).ok());
}

void* KernelRobustHead() {
  void* head = nullptr;
  size_t len = 0;
  CHECK_EQ(syscall(SYS_get_robust_list, 0, &head, &len), 0);
  return head;
}

// The slot holds the TID and nothing that could be an address; the kernel's head is ours while
// a deadman is held and glibc's again afterwards.
void PrivateListRegisteredAndRestored() {
  Table t = OpenTable("private");
  std::thread th([&] {
    void* glibc_head = KernelRobustHead();
    CHECK(glibc_head != nullptr);
    OwnerId id = 0;
    CHECK(t.table->Claim(&id).ok());
    CHECK(DeadmanList::RegisteredForTest());
    CHECK(KernelRobustHead() != glibc_head);
    CHECK_EQ(DeadmanList::LinkedForTest(), 1u);
    const OwnerSlot& slot = t.payload()->slots[OwnerTable::SlotOf(id)];
    CHECK_EQ(slot.deadman.load(), ThisThreadTid());
    const auto* bytes = reinterpret_cast<const uint8_t*>(&slot);
    for (size_t i = 4; i < offsetof(OwnerSlot, generation); ++i) CHECK_EQ(bytes[i], 0);
    for (size_t i = offsetof(OwnerSlot, pad); i < sizeof(OwnerSlot); ++i) CHECK_EQ(bytes[i], 0);
    t.table->Release(id);
    CHECK_EQ(slot.deadman.load(), 0u);
    CHECK(t.table->Check(id) == Liveness::kDead);
    CHECK_EQ(DeadmanList::LinkedForTest(), 0u);
    CHECK(!DeadmanList::RegisteredForTest());
    CHECK(KernelRobustHead() == glibc_head);
  });
  th.join();
  Close(t);
}

// The exploit the old design allowed: a writer of the table plants addresses in it so the
// kernel's exit-time robust-list walk of a victim thread writes FUTEX_OWNER_DIED into the
// victim's private memory (glibc linked held robust mutexes through `__list.__next` inside the
// shared pthread_mutex_t; its futex_offset is -32 on x86-64). Here the kernel reads no link
// from shared memory. Written against the raw slot bytes (64-byte slots, deadman word first),
// which both layouts share: against the old one the canary changes (checked when written).
alignas(64) uint32_t g_canary[32];

void HostileTableCannotSteerKernel() {
  Table t = OpenTable("hostile");
  std::atomic<int> step{0};
  uint32_t victim_tid = 0;
  OwnerId victim = 0;
  std::thread th([&] {
    CHECK(t.table->Claim(&victim).ok());
    victim_tid = static_cast<uint32_t>(syscall(SYS_gettid));
    g_canary[0] = victim_tid;  // the value the kernel would replace if steered here
    step.store(1, std::memory_order_release);
    while (step.load(std::memory_order_acquire) != 2) std::this_thread::yield();
    // exits holding the deadman: the kernel walks this thread's robust list now
  });
  while (step.load(std::memory_order_acquire) != 1) std::this_thread::yield();
  // Hostile writer: 8-byte word w of every slot points 8*w bytes past the canary, so a list
  // link kept at slot offset 8*w for a lock word at offset 0 (futex_offset -8*w; glibc: w = 4)
  // would send the kernel to the canary. The victim's deadman word keeps the victim's TID.
  auto* slots = reinterpret_cast<uint8_t*>(t.payload()) + offsetof(OwnerTablePayload, slots);
  for (uint32_t s = 0; s < kOwnerSlots; ++s) {
    auto* words = reinterpret_cast<std::atomic<uint64_t>*>(slots + s * 64);
    for (size_t w = 0; w < 8; ++w) {
      const uintptr_t forged = reinterpret_cast<uintptr_t>(&g_canary[0]) + 8 * (w == 0 ? 4 : w);
      words[w].store(forged, std::memory_order_relaxed);
    }
  }
  auto* victim_word =
      reinterpret_cast<std::atomic<uint32_t>*>(slots + OwnerTable::SlotOf(victim) * 64);
  victim_word->store(victim_tid, std::memory_order_relaxed);
  step.store(2, std::memory_order_release);
  th.join();
  CHECK_EQ(g_canary[0], victim_tid);  // untouched: the kernel wrote nowhere private
  // And the kernel did its job on the one word it was given: the victim's deadman.
  CHECK_EQ(victim_word->load() & (kFutexOwnerDiedBit | kFutexTidMask), kFutexOwnerDiedBit);
  Close(t);
}

// A thread may hold several deadmen of one table; each dies with it, released ones do not.
void SeveralDeadmenPerThread() {
  Table t = OpenTable("several");
  OwnerId a = 0, b = 0, c = 0;
  std::thread th([&] {
    CHECK(t.table->Claim(&a).ok());
    CHECK(t.table->Claim(&b).ok());
    CHECK(t.table->Claim(&c).ok());
    CHECK_EQ(DeadmanList::LinkedForTest(), 3u);
    t.table->Release(b);
    CHECK_EQ(DeadmanList::LinkedForTest(), 2u);
    CHECK(DeadmanList::RegisteredForTest());
    // another mapping of a table while holding deadmen of this one: refused, nothing changes
    std::shared_ptr<OwnerTable> other;
    CHECK(OwnerTable::Open(t.segment, &other).ok());
    OwnerId d = 0;
    CHECK_EQ(other->Claim(&d).status, Status::kBusy);
    CHECK_EQ(DeadmanList::LinkedForTest(), 2u);
  });
  th.join();
  CHECK(t.table->Check(a) == Liveness::kDead);
  CHECK(t.table->Check(b) == Liveness::kDead);
  CHECK(t.table->Check(c) == Liveness::kDead);
  // The kernel marked the held ones; the released one is simply free.
  CHECK((t.payload()->slots[OwnerTable::SlotOf(a)].deadman.load() & kFutexOwnerDiedBit) != 0);
  CHECK((t.payload()->slots[OwnerTable::SlotOf(c)].deadman.load() & kFutexOwnerDiedBit) != 0);
  CHECK_EQ(t.payload()->slots[OwnerTable::SlotOf(b)].deadman.load(), 0u);
  // Dead slots are claimed again (the table does not leak).
  OwnerId again = 0;
  CHECK(t.table->Claim(&again).ok());
  t.table->Release(again);
  Close(t);
}

// A word holding "TID | OWNER_DIED" is another thread's claim in progress: never taken over
// (two claimers would both believe they own the slot). A word without TID is free or dead.
void ClaimSkipsClaimsInProgress() {
  Table t = OpenTable("in-progress");
  OwnerTablePayload* p = t.payload();
  for (uint32_t s = 0; s < kOwnerSlots; ++s) p->slots[s].deadman.store(12345 | kFutexOwnerDiedBit);
  OwnerId id = 0;
  CHECK_EQ(t.table->Claim(&id).status, Status::kBusy);
  CHECK_EQ(DeadmanList::LinkedForTest(), 0u);
  CHECK(!DeadmanList::RegisteredForTest());  // nothing held: glibc's list is back
  p->slots[77].deadman.store(kFutexOwnerDiedBit | kFutexWaitersBit);  // dead, a waiter armed
  CHECK(t.table->Claim(&id).ok());
  CHECK_EQ(OwnerTable::SlotOf(id), 77u);
  CHECK_EQ(p->slots[77].deadman.load(), ThisThreadTid());
  t.table->Release(id);
  for (uint32_t s = 0; s < kOwnerSlots; ++s) p->slots[s].deadman.store(0);
  Close(t);
}

// A fork() child inherits none of its parent thread's deadmen (the kernel dropped the
// registration); its own claim registers its own list, and its death marks only its slot.
void ForkChildStartsClean() {
  Table t = OpenTable("fork");
  OwnerId parent = 0;
  CHECK(t.table->Claim(&parent).ok());
  int fds[2];
  CHECK_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    uint32_t report[2] = {DeadmanList::LinkedForTest(), DeadmanList::RegisteredForTest() ? 1u : 0u};
    OwnerId child = 0;
    if (!t.table->Claim(&child).ok() || !DeadmanList::RegisteredForTest()) _exit(2);
    uint32_t msg[3] = {report[0], report[1], child};
    if (write(fds[1], msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) _exit(3);
    pause();
    _exit(0);
  }
  close(fds[1]);  // a child that exits early then gives us EOF, not a hang
  uint32_t msg[3] = {9, 9, 0};
  const ssize_t got = read(fds[0], msg, sizeof msg);
  if (got != static_cast<ssize_t>(sizeof msg)) kill(pid, SIGKILL);
  CHECK_EQ(got, static_cast<ssize_t>(sizeof msg));
  CHECK_EQ(msg[0], 0u);  // the parent's entry was forgotten
  CHECK_EQ(msg[1], 0u);  // and glibc's list, not ours, was the child's
  CHECK(t.table->Check(msg[2]) == Liveness::kAlive);
  kill(pid, SIGKILL);
  int status = 0;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(t.table->Check(msg[2]) == Liveness::kDead);
  CHECK(t.table->Check(parent) == Liveness::kAlive);
  close(fds[0]);
  t.table->Release(parent);
  Close(t);
}

// Once a thread holds no deadman, glibc's own robust list is the kernel's again: a robust
// pthread mutex the thread dies holding reports EOWNERDEAD.
void GlibcRobustMutexesAfterRelease() {
  Table t = OpenTable("glibc");
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_t m;
  pthread_mutex_init(&m, &attr);
  pthread_mutexattr_destroy(&attr);
  std::thread th([&] {
    OwnerId id = 0;
    CHECK(t.table->Claim(&id).ok());
    t.table->Release(id);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    // exits holding m
  });
  th.join();
  CHECK_EQ(pthread_mutex_trylock(&m), EOWNERDEAD);
  pthread_mutex_consistent(&m);
  pthread_mutex_unlock(&m);
  pthread_mutex_destroy(&m);
  Close(t);
}

// Segments this uid does not own are refused, naming the owner (root can hand a file to
// another uid; other users skip that half).
void ForeignOwnerRefused() {
  const std::string name = "shmsync-" + TestName("foreign");
  std::shared_ptr<ShmRegion> r;
  bool created = false;
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 4096, OpenMode::kCreate, 0666, nullptr, nullptr, &r,
                           &created)
            .ok());
  r.reset();
  CHECK(ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &r, &created)
            .ok());
  r.reset();
  if (geteuid() == 0) {
    const std::string path = "/dev/shm/" + name;
    CHECK_EQ(chown(path.c_str(), 65534, 65534), 0);
    Result res =
        ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &r, &created);
    CHECK_EQ(res.status, Status::kPermission);
    CHECK_EQ(res.owner_uid, 65534);
    CHECK_EQ(res.file_mode, 0666u);
    CHECK(!r);
    res = ShmRegion::Acquire(name, Kind::kRaw, 4096, OpenMode::kOpenOrCreate, 0600, nullptr,
                             nullptr, &r, &created);
    CHECK_EQ(res.status, Status::kPermission);
    CHECK(ShmRegion::Acquire(name, Kind::kRaw, 0, OpenMode::kOpen, 0, nullptr, nullptr, &r,
                             &created, 0, OwnerCheck::kAnyOwner)
              .ok());
    r.reset();
  }
  CHECK(ShmRegion::Unlink(name).ok());
}

// An owner table must be ours, mode 0600, and of the current format.
void OwnerTableMustBePrivate() {
  Table t = OpenTable("mode");
  const std::string path = "/dev/shm/" + t.segment;
  std::shared_ptr<OwnerTable> again;
  CHECK(OwnerTable::Open(t.segment, &again).ok());
  again.reset();
  for (mode_t mode : {0640, 0606, 0666}) {
    CHECK_EQ(chmod(path.c_str(), mode), 0);
    Result res = OwnerTable::Open(t.segment, &again);
    CHECK_EQ(res.status, Status::kPermission);
    CHECK_EQ(res.owner_uid, static_cast<int64_t>(geteuid()));
    CHECK_EQ(res.file_mode, static_cast<uint32_t>(mode));
  }
  CHECK_EQ(chmod(path.c_str(), 0600), 0);
  if (geteuid() == 0) {
    CHECK_EQ(chown(path.c_str(), 65534, 65534), 0);
    Result res = OwnerTable::Open(t.segment, &again);
    CHECK_EQ(res.status, Status::kPermission);
    CHECK_EQ(res.owner_uid, 65534);
  }
  Close(t);

  // A table of the old layout (glibc mutexes, format 0) or with a zeroed id is not used.
  const std::string old = "shmsync-" + TestName("old-format");
  std::shared_ptr<ShmRegion> r;
  bool created = false;
  CHECK(ShmRegion::Acquire(old, Kind::kOwners, sizeof(OwnerTablePayload), OpenMode::kCreate, 0600,
                           nullptr, nullptr, &r, &created)
            .ok());
  auto* p = reinterpret_cast<OwnerTablePayload*>(r->payload());
  p->capacity.store(kOwnerSlots);
  p->table_id.store(7);
  CHECK_EQ(OwnerTable::Open(old, &again).status, Status::kVersionMismatch);
  p->format.store(kOwnerTableFormat);
  CHECK(OwnerTable::Open(old, &again).ok());
  CHECK_EQ(again->id(), 7u);
  p->table_id.store(0);
  CHECK_EQ(again->id(), 7u);  // read once at open, never again
  again.reset();
  CHECK_EQ(OwnerTable::Open(old, &again).status, Status::kCorrupt);
  r.reset();
  CHECK(ShmRegion::Unlink(old).ok());
}

}  // namespace

int main() {
  RUN(PrivateListRegisteredAndRestored);
  RUN(HostileTableCannotSteerKernel);
  RUN(SeveralDeadmenPerThread);
  RUN(ClaimSkipsClaimsInProgress);
  RUN(ForkChildStartsClean);
  RUN(GlibcRobustMutexesAfterRelease);
  RUN(ForeignOwnerRefused);
  RUN(OwnerTableMustBePrivate);
  return 0;
}
