// A thread's own kernel robust-futex list, kept entirely in private memory, for the deadman
// words of an owner table (owner-table.h).
//
// Kernel ABI (set_robust_list(2), Documentation/locking/robust-futex-ABI.rst): each thread may
// register one `struct robust_list_head { robust_list *next; long futex_offset; robust_list
// *list_op_pending; }`. When the thread exits or dies, the kernel walks the singly linked,
// circular list that starts at the head and, for each entry, looks at the 32-bit word at
// (entry + futex_offset): only when its FUTEX_TID_MASK bits equal the dying thread's TID does it
// store (old & FUTEX_WAITERS) | FUTEX_OWNER_DIED there and, if FUTEX_WAITERS was set, wake one
// waiter (a shared futex wake: other processes' futex_waitv sleepers see it).
//
// Why not glibc's robust pthread mutexes (the previous design): glibc links a held robust mutex
// into its thread's list through `__list.__next` pointers stored inside the mutex, i.e. inside
// the shared segment. Any writer of the segment could read those addresses (an ASLR leak) and
// rewrite them to make the kernel's exit-time walk compare-and-swap where it chooses. Here the
// head and every entry live in this process's private memory; the only shared addresses the
// kernel ever touches are (private entry + offset), i.e. exactly the deadman words of slots this
// thread claimed, and only when such a word still holds this thread's TID. A rogue value written
// into a word can make that slot look alive or dead (a liveness error for that one slot), never
// make this process write anywhere else.
//
// One entry per table slot, at entries + slot * stride (a private MAP_NORESERVE mapping shaped
// like the table's slot array, one futex_offset for all of them); a thread may hold deadmen of
// one table mapping at a time. While a thread has any entry linked, our head replaces the one
// glibc registered for it (saved with get_robust_list and restored when the last entry is
// unlinked). Consequence, documented in docs/concepts/crash-recovery.md: a glibc robust
// pthread mutex that this same thread holds while it holds a deadman is not marked
// EOWNERDEAD by the kernel if the thread dies (glibc keeps using its own, now unregistered,
// list). Node does not use robust mutexes.
//
// Every function acts on the calling thread's list and must be called on that thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "status.h"

namespace shmsync {

// The calling thread's kernel TID (gettid), as the kernel compares it at death.
uint32_t ThisThreadTid();

class DeadmanList {
 public:
  // Makes the calling thread's list cover the slot array at `slot0_word` (the deadman word of
  // slot 0; slot i's word is at slot0_word + i * stride) and registers it with the kernel if
  // it is not registered yet. `keepalive` keeps that mapping alive while any entry is linked
  // (the kernel must never walk into a range that was unmapped and reused). kBusy when the
  // thread already holds entries of another mapping; kSystem when the kernel refuses.
  static Result Bind(const std::atomic<uint32_t>* slot0_word, size_t stride, uint32_t slots,
                     std::shared_ptr<const void> keepalive);
  // Links the entry of `slot` (idempotent). Requires a successful Bind for the same mapping.
  // Call BEFORE the word can hold this thread's TID.
  static void Link(uint32_t slot);
  // Unlinks the entry of `slot` if linked. Call AFTER the word stopped holding this thread's
  // TID. Does not unregister; see UnbindIfEmpty.
  static void Unlink(const std::atomic<uint32_t>* slot0_word, uint32_t slot);
  // With no entry linked: gives the thread's previous robust list (glibc's) back to the kernel
  // and drops the keepalive.
  static void UnbindIfEmpty();

  // Tests: whether the kernel currently has this thread's private head registered, and how many
  // entries are linked.
  static bool RegisteredForTest();
  static uint32_t LinkedForTest();
};

}  // namespace shmsync
