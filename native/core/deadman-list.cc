// Private robust-futex lists (see deadman-list.h). Every function runs on the thread whose list
// it changes; the registry mutex only guards handing records to threads.
#include "deadman-list.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace shmsync {

namespace {

// struct robust_list / struct robust_list_head of <linux/futex.h>, spelled out so the layout
// the kernel reads is visible here.
struct RobustEntry {
  RobustEntry* next;
};
struct RobustHead {
  RobustEntry list;              // list.next: first entry, or &list when empty
  long futex_offset;             // word = entry + futex_offset, for every entry
  RobustEntry* list_op_pending;  // always null: the TID protocol needs no pending marker
};
static_assert(sizeof(RobustEntry) == sizeof(void*), "kernel ABI: struct robust_list");
static_assert(sizeof(RobustHead) == 3 * sizeof(void*), "kernel ABI: struct robust_list_head");

// One per thread that ever claimed a deadman. Heap records reachable from g_records for the
// process's life: the kernel may read a dead thread's record at that thread's exit, so a record
// whose thread exited with entries still linked is never reused or freed; one whose thread
// exited with none is reused by the next thread.
struct Record {
  RobustHead head;
  uint8_t* entries = nullptr;  // private MAP_NORESERVE mapping, entry i at entries + i * stride
  size_t entries_size = 0;
  const std::atomic<uint32_t>* slot0 = nullptr;  // bound mapping, null when unbound
  size_t stride = 0;
  uint32_t slots = 0;
  uint32_t linked = 0;
  bool registered = false;     // our head is the kernel's robust list for this thread
  uint32_t tid = 0;            // owning thread (informational; reset in a fork() child)
  void* saved_head = nullptr;  // the thread's list before ours (glibc's), restored at unbind
  std::shared_ptr<const void> keepalive;
  bool in_use = false;            // guarded by g_registry_mu
  Record* next_record = nullptr;  // registry link, guarded by g_registry_mu
};

std::mutex g_registry_mu;
Record* g_records = nullptr;

// Returns the record to the pool at thread exit when the kernel no longer references it.
struct ThreadRecord {
  Record* record = nullptr;
  ~ThreadRecord() {
    if (record == nullptr || record->registered || record->linked != 0) return;  // kernel walks it
    std::lock_guard<std::mutex> lock(g_registry_mu);
    record->keepalive.reset();
    record->in_use = false;
  }
};
thread_local ThreadRecord t_record;

void ResetList(Record* r) {
  r->head.list.next = &r->head.list;
  r->head.futex_offset = 0;
  r->head.list_op_pending = nullptr;
}

// A fork() child runs on a copy of its parent thread's record. The kernel dropped the
// registration at fork and glibc registered its own head again; none of the parent's deadmen
// are the child's (their words hold the parent's TID). Forget them.
void ForgetInherited(Record* r) {
  for (RobustEntry* e = r->head.list.next; e != nullptr && e != &r->head.list;) {
    RobustEntry* next = e->next;
    e->next = nullptr;
    e = next;
  }
  ResetList(r);
  r->linked = 0;
  r->registered = false;
  r->slot0 = nullptr;
  r->keepalive.reset();
  r->tid = ThisThreadTid();
}

// pthread_atfork handlers: the registry lock is not held across fork (a child that needs a
// record must not deadlock on a lock another parent thread held), and the forking thread's
// record is reset in the child. Registered when the first record is made.
void ForkPrepare() { g_registry_mu.lock(); }
void ForkParent() { g_registry_mu.unlock(); }
void ForkChild() {
  g_registry_mu.unlock();
  if (t_record.record != nullptr) ForgetInherited(t_record.record);
}

// The calling thread's record; with create == false, null for a thread that never bound.
// No syscall once the thread has one.
Record* ThisThreadRecord(bool create) {
  Record* r = t_record.record;
  if (r != nullptr || !create) return r;
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] { pthread_atfork(ForkPrepare, ForkParent, ForkChild); });
  std::lock_guard<std::mutex> lock(g_registry_mu);
  for (Record* p = g_records; p != nullptr; p = p->next_record) {
    if (!p->in_use) {
      r = p;
      break;
    }
  }
  if (r == nullptr) {
    r = new Record();
    r->next_record = g_records;
    g_records = r;
  }
  r->in_use = true;
  r->tid = ThisThreadTid();
  r->linked = 0;
  r->registered = false;
  r->slot0 = nullptr;
  ResetList(r);
  t_record.record = r;
  return r;
}

RobustEntry* EntryOf(Record* r, uint32_t slot) {
  return reinterpret_cast<RobustEntry*>(r->entries + static_cast<size_t>(slot) * r->stride);
}

}  // namespace

uint32_t ThisThreadTid() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

Result DeadmanList::Bind(const std::atomic<uint32_t>* slot0_word, size_t stride, uint32_t slots,
                         std::shared_ptr<const void> keepalive) {
  Record* r = ThisThreadRecord(true);
  if (r->slot0 != nullptr) {
    if (r->slot0 == slot0_word && r->stride == stride && r->slots == slots) return Result::Ok();
    if (r->linked != 0) return Result::Of(Status::kBusy);  // deadmen of another mapping held
    UnbindIfEmpty();
  }
  if (stride < sizeof(RobustEntry) || stride % alignof(RobustEntry) != 0) {
    return Result::Of(Status::kCorrupt);
  }
  const size_t need = stride * slots;
  if (r->entries_size < need) {
    if (r->entries != nullptr) munmap(r->entries, r->entries_size);
    r->entries = nullptr;
    r->entries_size = 0;
    // Private and never shared: fork() children get a copy, other processes nothing.
    void* p = mmap(nullptr, need, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Result::Errno(errno, "mmap");
    r->entries = static_cast<uint8_t*>(p);
    r->entries_size = need;
  }
  if (!r->registered) {
    // Save whatever the thread had (glibc's head) to give it back when we are done.
    void* old_head = nullptr;
    size_t old_len = 0;  // always sizeof(struct robust_list_head)
    if (syscall(SYS_get_robust_list, 0, &old_head, &old_len) != 0) {
      return Result::Errno(errno, "get_robust_list");
    }
    ResetList(r);
    if (syscall(SYS_set_robust_list, &r->head, sizeof(RobustHead)) != 0) {
      return Result::Errno(errno, "set_robust_list");
    }
    r->saved_head = old_head;
    r->registered = true;
  }
  // word_i = entry_i + futex_offset for every slot i: both arrays share the stride.
  r->head.futex_offset = static_cast<long>(reinterpret_cast<uintptr_t>(slot0_word) -
                                           reinterpret_cast<uintptr_t>(r->entries));
  r->slot0 = slot0_word;
  r->stride = stride;
  r->slots = slots;
  r->keepalive = std::move(keepalive);
  return Result::Ok();
}

void DeadmanList::Link(uint32_t slot) {
  Record* r = ThisThreadRecord(false);
  if (r == nullptr || r->slot0 == nullptr || slot >= r->slots) return;
  RobustEntry* e = EntryOf(r, slot);
  if (e->next != nullptr) return;  // already linked
  e->next = r->head.list.next;
  r->head.list.next = e;
  ++r->linked;
  // The kernel reads the list when this thread dies, i.e. "between" two of its instructions:
  // a compiler fence orders the link before the caller's compare-and-swap of the word.
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void DeadmanList::Unlink(const std::atomic<uint32_t>* slot0_word, uint32_t slot) {
  std::atomic_signal_fence(std::memory_order_seq_cst);  // the word's release comes first
  Record* r = ThisThreadRecord(false);
  if (r == nullptr || r->slot0 != slot0_word || slot >= r->slots) return;
  RobustEntry* e = EntryOf(r, slot);
  if (e->next == nullptr) return;
  for (RobustEntry* p = &r->head.list; p->next != &r->head.list; p = p->next) {
    if (p->next == e) {
      p->next = e->next;
      e->next = nullptr;
      --r->linked;
      break;
    }
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void DeadmanList::UnbindIfEmpty() {
  Record* r = ThisThreadRecord(false);
  if (r == nullptr || r->linked != 0) return;
  if (r->registered) {
    // Hand the thread back to its previous list (glibc's). If that fails the thread keeps our
    // empty head: nothing of ours is in it, only glibc's robust mutexes lose death cleanup.
    if (syscall(SYS_set_robust_list, r->saved_head, sizeof(RobustHead)) == 0) r->registered = false;
  }
  r->slot0 = nullptr;
  r->keepalive.reset();
}

bool DeadmanList::RegisteredForTest() {
  Record* r = ThisThreadRecord(false);
  if (r == nullptr) return false;
  void* head = nullptr;
  size_t len = 0;
  if (syscall(SYS_get_robust_list, 0, &head, &len) != 0) return false;
  return head == &r->head;
}

uint32_t DeadmanList::LinkedForTest() {
  Record* r = ThisThreadRecord(false);
  return r == nullptr ? 0 : r->linked;
}

}  // namespace shmsync
