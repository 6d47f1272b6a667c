// FutexRing implementation over the raw io_uring syscalls (no liburing). Owner thread only.
#include "futex-ring.h"

#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "futex.h"

namespace shmsync {

namespace {
// Linux 6.7 opcodes; older uapi headers (this build may have them) do not name them.
constexpr uint8_t kOpFutexWait = 51;               // IORING_OP_FUTEX_WAIT
constexpr uint64_t kFutexBitsetAny = 0xffffffffu;  // FUTEX_BITSET_MATCH_ANY
constexpr unsigned kEntries = 64;  // in flight at once is unbounded; this only bounds one submit

int Enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  return static_cast<int>(
      syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}
}  // namespace

std::unique_ptr<FutexRing> FutexRing::Open() {
  std::unique_ptr<FutexRing> ring(new FutexRing());
  if (!ring->Setup()) return nullptr;
  // Probe: a wait whose expected value is wrong must complete at once with -EAGAIN. Anything
  // else (-EINVAL: no futex ops in this kernel) means "not usable".
  std::atomic<uint32_t> word{0};
  if (!ring->Wait(&word, 1, 1)) return nullptr;
  int r;
  do {
    r = Enter(ring->fd_, 0, 1, IORING_ENTER_GETEVENTS);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return nullptr;
  int32_t res = 0;
  int seen = ring->Drain([&](uint64_t, int32_t v) { res = v; });
  if (seen != 1 || res != -EAGAIN) return nullptr;
  return ring;
}

bool FutexRing::Setup() {
  io_uring_params p;
  std::memset(&p, 0, sizeof(p));
  fd_ = static_cast<int>(syscall(__NR_io_uring_setup, kEntries, &p));
  if (fd_ < 0) return false;
  sq_map_size_ = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  cq_map_size_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_map_size_ > sq_map_size_) sq_map_size_ = cq_map_size_;
  sq_map_ = mmap(nullptr, sq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                 IORING_OFF_SQ_RING);
  if (sq_map_ == MAP_FAILED) {
    sq_map_ = nullptr;
    return false;
  }
  if (single) {
    cq_map_ = sq_map_;
    cq_map_size_ = 0;  // one mapping, unmapped once
  } else {
    cq_map_ = mmap(nullptr, cq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
                   IORING_OFF_CQ_RING);
    if (cq_map_ == MAP_FAILED) {
      cq_map_ = nullptr;
      return false;
    }
  }
  sqes_size_ = p.sq_entries * sizeof(io_uring_sqe);
  sqes_ = mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_,
               IORING_OFF_SQES);
  if (sqes_ == MAP_FAILED) {
    sqes_ = nullptr;
    return false;
  }
  auto* sq = static_cast<char*>(sq_map_);
  auto* cq = static_cast<char*>(cq_map_);
  sq_head_ = reinterpret_cast<std::atomic<uint32_t>*>(sq + p.sq_off.head);
  sq_tail_ = reinterpret_cast<std::atomic<uint32_t>*>(sq + p.sq_off.tail);
  sq_mask_ = *reinterpret_cast<uint32_t*>(sq + p.sq_off.ring_mask);
  sq_entries_ = *reinterpret_cast<uint32_t*>(sq + p.sq_off.ring_entries);
  sq_array_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.array);
  sq_flags_ = reinterpret_cast<std::atomic<uint32_t>*>(sq + p.sq_off.flags);
  cq_head_ = reinterpret_cast<std::atomic<uint32_t>*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<std::atomic<uint32_t>*>(cq + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<uint32_t*>(cq + p.cq_off.ring_mask);
  cqes_ = cq + p.cq_off.cqes;
  return true;
}

FutexRing::~FutexRing() {
  // Closing the fd cancels every wait still in flight (the kernel reaps them).
  if (sqes_ != nullptr) munmap(sqes_, sqes_size_);
  if (cq_map_ != nullptr && cq_map_ != sq_map_) munmap(cq_map_, cq_map_size_);
  if (sq_map_ != nullptr) munmap(sq_map_, sq_map_size_);
  if (fd_ >= 0) close(fd_);
}

bool FutexRing::Submit(uint8_t opcode, uint8_t flags, uint64_t addr, uint64_t addr2, uint64_t addr3,
                       int32_t fd, uint64_t tag) {
  // relaxed: only this thread writes the tail; acquire on head: the kernel consumed those SQEs.
  const uint32_t tail = sq_tail_->load(std::memory_order_relaxed);
  if (tail - sq_head_->load(std::memory_order_acquire) >= sq_entries_) return false;
  const uint32_t index = tail & sq_mask_;
  auto* sqe = static_cast<io_uring_sqe*>(sqes_) + index;
  std::memset(sqe, 0, sizeof(*sqe));
  sqe->opcode = opcode;
  sqe->flags = flags;
  sqe->fd = fd;
  sqe->addr = addr;
  sqe->addr2 = addr2;
  sqe->addr3 = addr3;
  sqe->user_data = tag;
  sq_array_[index] = index;
  // release: the SQE contents are visible to the kernel before the new tail.
  sq_tail_->store(tail + 1, std::memory_order_release);
  int r;
  do {
    r = Enter(fd_, 1, 0, 0);
  } while (r < 0 && errno == EINTR);
  if (r == 1) return true;
  // Not consumed (e.g. EAGAIN/EBUSY under memory pressure): take the SQE back.
  if (sq_head_->load(std::memory_order_acquire) == tail) {
    sq_tail_->store(tail, std::memory_order_relaxed);
    return false;
  }
  return true;  // consumed after all (r < 0 but the kernel moved head): the completion follows
}

bool FutexRing::Wait(std::atomic<uint32_t>* word, uint32_t expected, uint64_t tag) {
  // sqe->fd carries the futex2 flags: 32-bit word, shared (no FUTEX2_PRIVATE).
  return Submit(kOpFutexWait, 0, reinterpret_cast<uint64_t>(word), expected, kFutexBitsetAny,
                static_cast<int32_t>(kFutex2Size32), tag);
}

bool FutexRing::Cancel(uint64_t tag) {
  // No completion for the cancel op itself when it succeeds (the cancelled wait still posts its
  // -ECANCELED): half the completions a burst of timeouts would queue before the loop drains them.
  return Submit(IORING_OP_ASYNC_CANCEL, IOSQE_CQE_SKIP_SUCCESS, tag, 0, 0, -1, 0);
}

bool FutexRing::Next(uint64_t* tag, int32_t* res) {
  // relaxed: only this thread moves the head; acquire on tail: the CQE contents are visible.
  const uint32_t head = cq_head_->load(std::memory_order_relaxed);
  if (head == cq_tail_->load(std::memory_order_acquire)) return false;
  const auto* cqe = static_cast<const io_uring_cqe*>(cqes_) + (head & cq_mask_);
  *tag = cqe->user_data;
  *res = cqe->res;
  // release: the kernel may reuse the slot only after we copied it out.
  cq_head_->store(head + 1, std::memory_order_release);
  return true;
}

bool FutexRing::Overflowed() const {
  // relaxed: a hint; FlushOverflow's syscall orders what follows.
  return (sq_flags_->load(std::memory_order_relaxed) & IORING_SQ_CQ_OVERFLOW) != 0;
}

void FutexRing::FlushOverflow() {
  int r;
  do {
    r = Enter(fd_, 0, 0, IORING_ENTER_GETEVENTS);
  } while (r < 0 && errno == EINTR);
}

}  // namespace shmsync
