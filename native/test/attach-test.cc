// Tests of native/core/attach: the attach word's transitions (open, release, hand-off lease,
// no resurrection, reaping), threads racing opens against the last release, and a forked
// attacher that dies without releasing (the reaper's "unmapped" case). Run by ctest, plain and
// under ASan/UBSan and TSan.
#include "attach.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "check.h"

using shmsync::Kind;
using shmsync::OpenMode;
using shmsync::Result;
using shmsync::ShmRegion;
using shmsync::Status;
namespace attach = shmsync::attach;

namespace {

std::string TestName(const char* tag) {
  return "shmsync-ctest-attach-" + std::string(tag) + "-" + std::to_string(getpid());
}

bool Exists(const std::string& name) {
  struct stat st;
  return stat(("/dev/shm/" + name).c_str(), &st) == 0;
}

uint64_t InodeOf(const std::string& name) {
  struct stat st;
  CHECK(stat(("/dev/shm/" + name).c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_ino);
}

Result Get(const std::string& name, OpenMode mode, uint32_t flags,
           std::shared_ptr<ShmRegion>* out) {
  bool created = false;
  return attach::AcquireWithLifetime(name, Kind::kRaw, mode == OpenMode::kOpen ? 0 : 64, mode, 0600,
                                     nullptr, nullptr, flags, out, &created);
}

void LastReleaseUnlinks() {
  const std::string name = TestName("last");
  std::shared_ptr<ShmRegion> a, b;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  CHECK(attach::IsAttached(a.get()));
  CHECK(Get(name, OpenMode::kOpen, 0, &b).ok());
  CHECK(!attach::Detach(a.get()));  // b still attached
  CHECK(Exists(name));
  CHECK(attach::Detach(b.get()));  // the last one unlinks
  CHECK(!Exists(name));
  CHECK_EQ(attach::LingerMs(b.get()), 0);
}

uint64_t WordNow(const std::shared_ptr<ShmRegion>& r) {
  return reinterpret_cast<std::atomic<uint64_t>*>(r->base() + attach::kWordOffset)
      ->load(std::memory_order_acquire);
}

void PersistentIsUntouched() {
  const std::string name = TestName("persistent");
  std::shared_ptr<ShmRegion> a;
  CHECK(Get(name, OpenMode::kCreate, 0, &a).ok());
  CHECK(!attach::IsAttached(a.get()));
  CHECK(!attach::Detach(a.get()));
  CHECK(!attach::Lease(a.get(), 1000));
  CHECK(Exists(name));
  CHECK_EQ(attach::Reap(name, 0, true, 0), -1);  // the reaper never touches a persistent segment
  CHECK(ShmRegion::Unlink(name).ok());
}

void ForgedFlagsNeverUnlinkPersistent() {
  // Someone with write access (a group member of a shared segment) marks a persistent segment
  // attached and its word reaped, or released: no opener and no sweep may unlink it - the
  // lifetime is bound to the file's mode (S_ISVTX), which only its owner can set.
  const std::string name = TestName("forged");
  std::shared_ptr<ShmRegion> a, b;
  CHECK(Get(name, OpenMode::kCreate, 0, &a).ok());
  auto* h = reinterpret_cast<shmsync::SegmentHeader*>(a->base());
  auto* word = reinterpret_cast<std::atomic<uint64_t>*>(a->base() + attach::kWordOffset);
  h->flags |= attach::kFlagAttached;
  word->store(attach::Pack(attach::kCountReaped, 0, 0), std::memory_order_release);
  CHECK(Get(name, OpenMode::kOpen, 0, &b).ok());  // opens as the persistent segment it is
  CHECK(!attach::IsAttached(b.get()));
  CHECK(!attach::Detach(b.get()));
  CHECK(Exists(name));
  CHECK(!attach::UnlinkReaped(name));
  CHECK_EQ(attach::Reap(name, InodeOf(name), true, word->load()), -1);
  word->store(attach::Pack(0, 0, 0), std::memory_order_release);  // "released"
  CHECK_EQ(attach::Reap(name, InodeOf(name), false, 0), -1);
  CHECK(Exists(name));
  CHECK(ShmRegion::Unlink(name).ok());
}

void LeaseKeepsItForTheReceiver() {
  const std::string name = TestName("lease");
  std::shared_ptr<ShmRegion> a, b, c;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  CHECK(attach::Lease(a.get(), 60000));
  CHECK(!attach::Detach(a.get()));  // count 0, hand-off pending: not unlinked
  CHECK(Exists(name));
  CHECK(attach::LingerMs(a.get()) > 0);
  CHECK_EQ(attach::Reap(name, 0, true, WordNow(a)), 0);  // the lease holds against the reaper too
  CHECK(Get(name, OpenMode::kOpen, 0, &b).ok());  // the receiver opens: consumes the hand-off
  CHECK(attach::Detach(b.get()));                 // nothing pending: its release unlinks
  CHECK(!Exists(name));
  CHECK_EQ(Get(name, OpenMode::kOpen, 0, &c).status, Status::kNotFound);
}

void SaturatedPendingWaitsForTheDeadline() {
  // 300 hand-offs recorded (pending saturates at 255), 255 receivers open and close, then the
  // sender closes: 45 references are still in flight, so the segment must stay for its lease.
  const std::string name = TestName("saturated");
  std::shared_ptr<ShmRegion> a, last;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  for (int i = 0; i < 300; ++i) CHECK(attach::Lease(a.get(), 60000));
  for (uint64_t i = 0; i < attach::kPendingMax; ++i) {
    std::shared_ptr<ShmRegion> r;
    CHECK(Get(name, OpenMode::kOpen, 0, &r).ok());
    CHECK(!attach::Detach(r.get()));
  }
  CHECK(!attach::Detach(a.get()));  // the sender's last handle: references still in flight
  CHECK(Exists(name));
  CHECK(Get(name, OpenMode::kOpen, 0, &last).ok());  // the 256th receiver still opens it
  CHECK(!attach::Detach(last.get()));
  CHECK(ShmRegion::Unlink(name).ok());  // the lease would end it in 60 s: clean up now
}

void ExpiredLeaseIsDying() {
  const std::string name = TestName("expired");
  std::shared_ptr<ShmRegion> a, b;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  CHECK(attach::Lease(a.get(), 0));  // a lease that is already over
  CHECK(attach::Detach(a.get()));    // so the last release unlinks at once
  CHECK(!Exists(name));
  // Open-or-create of a name whose segment died makes a fresh one.
  CHECK(Get(name, OpenMode::kOpenOrCreate, attach::kFlagAttached, &b).ok());
  CHECK(attach::Detach(b.get()));
}

void NoResurrection() {
  // A word at count 0 with nothing pending (what a release leaves for an instant before its
  // unlink) refuses every open, and open-or-create replaces it.
  const std::string name = TestName("dying");
  std::shared_ptr<ShmRegion> a, b;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  auto* word = reinterpret_cast<std::atomic<uint64_t>*>(a->base() + attach::kWordOffset);
  word->store(attach::Pack(attach::kCountReaped, 0, 0), std::memory_order_release);
  CHECK_EQ(Get(name, OpenMode::kOpen, 0, &b).status, Status::kNotFound);
  CHECK(Exists(name));  // a reaped word is the reaper's to unlink ...
  CHECK_EQ(attach::Reap(name, InodeOf(name), false, 0), 1);  // ... or any later sweep's
  CHECK(!Exists(name));
}

void RacingOpensAndLastRelease() {
  // Threads open and release while the creator releases: every open either attaches (and its
  // release is then the one that may unlink) or fails as not found; the name ends up removed.
  for (int round = 0; round < 50; ++round) {
    const std::string name = TestName("race");
    std::shared_ptr<ShmRegion> creator;
    CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &creator).ok());
    std::atomic<int> unlinked{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&] {
        for (int k = 0; k < 20; ++k) {
          std::shared_ptr<ShmRegion> r;
          Result res = Get(name, OpenMode::kOpen, 0, &r);
          if (!res.ok()) {
            CHECK_EQ(res.status, Status::kNotFound);
            return;
          }
          if (attach::Detach(r.get())) unlinked.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    if (attach::Detach(creator.get())) unlinked.fetch_add(1, std::memory_order_relaxed);
    for (auto& th : threads) th.join();
    CHECK_EQ(unlinked.load(), 1);  // exactly one releaser unlinked
    CHECK(!Exists(name));
  }
}

void DeadAttacherIsReaped() {
  const std::string name = TestName("dead");
  std::shared_ptr<ShmRegion> a;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  const pid_t pid = fork();
  if (pid == 0) {
    std::shared_ptr<ShmRegion> r;
    _exit(Get(name, OpenMode::kOpen, 0, &r).ok() ? 0 : 1);  // attaches, dies without releasing
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(!attach::Detach(a.get()));  // the dead child's count remains
  CHECK(Exists(name));
  const uint64_t before = WordNow(a);  // what a sweep reads before its /proc scan
  CHECK_EQ(attach::Reap(name, InodeOf(name) + 1, true, before),
           -1);                                                   // another inode: not this file
  CHECK_EQ(attach::Reap(name, InodeOf(name), false, before), 0);  // maybe mapped: left alone
  {
    // An open after the scan looked (its process not seen mapping it): the stale judgement
    // must not unlink the segment it just attached to.
    std::shared_ptr<ShmRegion> late;
    CHECK(Get(name, OpenMode::kOpen, 0, &late).ok());
    CHECK_EQ(attach::Reap(name, InodeOf(name), true, before), 0);
    CHECK(Exists(name));
    CHECK(!attach::Detach(late.get()));
  }
  CHECK_EQ(attach::Reap(name, InodeOf(name), true, WordNow(a)), 1);  // nobody maps it: reaped
  CHECK(!Exists(name));
}

// Hostile word: a rogue rewrites the attach word of a segment nobody maps to "count 0, one
// hand-off pending, deadline years ahead". No lease can set that (Lease clamps to kMaxLeaseMs),
// so the reaper treats it as expired and unlinks. Before the bound the segment was immortal: every
// sweep left it (the lease "had not expired") until reboot.
void ForgedFarDeadlineIsReaped() {
  const std::string name = TestName("forged");
  std::shared_ptr<ShmRegion> a;
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  auto* word = reinterpret_cast<std::atomic<uint64_t>*>(a->base() + attach::kWordOffset);
  const uint64_t years = uint64_t{10} * 365 * 86'400'000;
  word->store(attach::Pack(0, 1, attach::NowMs() + years), std::memory_order_relaxed);
  a.reset();  // unmapped without a detach (the rogue's word stays)
  CHECK(Exists(name));
  CHECK_EQ(attach::Reap(name, InodeOf(name), true, 0), 1);
  CHECK(!Exists(name));

  // A real lease is still honoured: within kMaxLeaseMs the lingering segment stays.
  CHECK(Get(name, OpenMode::kCreate, attach::kFlagAttached, &a).ok());
  CHECK(attach::Lease(a.get(), years));  // clamped to one day
  CHECK(!attach::Detach(a.get()));       // count 0, lease running: lingers
  CHECK(attach::LingerMs(a.get()) > 0 && attach::LingerMs(a.get()) <= 86400000);
  a.reset();
  CHECK_EQ(attach::Reap(name, InodeOf(name), true, 0), 0);
  CHECK(ShmRegion::Unlink(name).ok());
}

// Once a dying segment's name is gone anyone may create a file under it, e.g. a FIFO. The last
// closer's unlink (and the reaper) open the name to re-check the word: before O_NONBLOCK a
// read-only open of a FIFO blocked until a writer came, i.e. close()/exit hung forever.
void FifoUnderTheNameDoesNotBlock() {
  const std::string name = TestName("fifo");
  CHECK_EQ(mkfifo(("/dev/shm/" + name).c_str(), 0600), 0);
  std::atomic<int> done{0};
  std::thread t([&] {
    CHECK(!attach::UnlinkReaped(name));
    CHECK_EQ(attach::Reap(name, 0, true, 0), -1);
    done.store(1);
  });
  for (int i = 0; i < 2000 && done.load() == 0; ++i) usleep(1000);
  const bool finished = done.load() == 1;
  if (!finished) {
    // Unblock the test thread (a writer opens the FIFO) before failing.
    int w = open(("/dev/shm/" + name).c_str(), O_WRONLY | O_NONBLOCK);
    if (w >= 0) close(w);
  }
  t.join();
  CHECK_EQ(unlink(("/dev/shm/" + name).c_str()), 0);
  CHECK(finished);
}

}  // namespace

int main() {
  RUN(LastReleaseUnlinks);
  RUN(PersistentIsUntouched);
  RUN(ForgedFlagsNeverUnlinkPersistent);
  RUN(LeaseKeepsItForTheReceiver);
  RUN(SaturatedPendingWaitsForTheDeadline);
  RUN(ExpiredLeaseIsDying);
  RUN(NoResurrection);
  RUN(RacingOpensAndLastRelease);
  RUN(DeadAttacherIsReaped);
  RUN(ForgedFarDeadlineIsReaped);
  RUN(FifoUnderTheNameDoesNotBlock);
  return 0;
}
