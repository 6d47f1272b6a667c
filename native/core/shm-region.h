// A mapped POSIX shared-memory segment with a validated SegmentHeader.
//
// Thread-safety: a ShmRegion is immutable after Create/Open returns; any thread may read
// payload()/payload_size().
//
// Hostile memory: the SegmentHeader in the mapping is read exactly once, into a private copy
// (pread, before mapping), validated against the file size, and every pointer and bound
// (payload_, payload_size_, total_) is computed from that copy at open. Nothing reads a header
// field from the mapping afterwards, so a process that rewrites the header later cannot steer
// any pointer of ours. The mapping lives until the last shared_ptr owner drops it (the JS handle
// and every external ArrayBuffer over it each hold one), so JS can never touch unmapped memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "layout.h"
#include "status.h"

namespace shmsync {

enum class OpenMode : int32_t { kOpen = 0, kCreate = 1, kOpenOrCreate = 2 };

// Whose existing segment an open accepts. /dev/shm is world-writable: any local user can
// pre-create a name. Checked with fstat on the opened descriptor (no path race); a refusal is
// kPermission with the file's owner uid and mode in the Result.
enum class OwnerCheck : int32_t {
  kMine = 0,         // owned by this process's effective uid (the default)
  kMinePrivate = 1,  // kMine and no group/other permission bits (the owner table)
  kAnyOwner = 2,     // the caller explicitly trusts other users (SharedMemory allowForeignOwner)
};

// Initialises a kind-specific payload before the segment is published. May be null: the
// payload is then all zero bytes (ftruncate guarantees it).
using PayloadInit = void (*)(uint8_t* payload, uint64_t payload_size, const void* arg);

class ShmRegion {
 public:
  ShmRegion(const ShmRegion&) = delete;
  ShmRegion& operator=(const ShmRegion&) = delete;
  ~ShmRegion();

  // Opens and/or creates the segment `segment_name` (a full name such as "shmsync-foo", no
  // slash). payload_size == 0 on open means "any size"; otherwise it must match. `created`
  // reports whether this call created the segment. `header_flags` (attach.h kFlagAttached or
  // 0) is written into a segment this call creates, before it is published; `owner` applies to
  // opening an existing one.
  static Result Acquire(const std::string& segment_name, Kind kind, uint64_t payload_size,
                        OpenMode mode, uint32_t perm, PayloadInit init, const void* init_arg,
                        std::shared_ptr<ShmRegion>* out, bool* created, uint32_t header_flags = 0,
                        OwnerCheck owner = OwnerCheck::kMine);
  static Result Unlink(const std::string& segment_name);

  // Fixed at open from the validated private header copy: [payload(), payload() +
  // payload_size()) always lies inside the mapping.
  uint8_t* payload() const { return payload_; }
  uint64_t payload_size() const { return payload_size_; }
  const std::string& segment_name() const { return segment_name_; }
  // Header flags as validated at open (the creator's `header_flags` for a segment we created):
  // never re-read from the mapping, so a rewritten `flags` cannot turn a persistent segment into
  // an attached one (which its last closer would unlink).
  uint32_t header_flags() const { return flags_; }
  // Start of the mapping: the 64-byte header, which always lies inside it (total_ >= header).
  // For live shared words kept in the header (attach.h); never for a validated field.
  uint8_t* base() const { return base_; }

 private:
  ShmRegion(std::string segment_name, uint8_t* base, uint64_t total, uint64_t payload_offset,
            uint64_t payload_size, uint32_t flags)
      : segment_name_(std::move(segment_name)),
        base_(base),
        total_(total),
        payload_(base + payload_offset),
        payload_size_(payload_size),
        flags_(flags) {}

  static Result Create(const std::string& segment_name, Kind kind, uint64_t payload_size,
                       uint32_t perm, PayloadInit init, const void* init_arg,
                       std::shared_ptr<ShmRegion>* out, uint32_t header_flags);
  static Result Open(const std::string& segment_name, Kind kind, uint64_t payload_size,
                     OwnerCheck owner, std::shared_ptr<ShmRegion>* out);

  std::string segment_name_;
  uint8_t* base_;
  uint64_t total_;
  uint8_t* payload_;
  uint64_t payload_size_;
  uint32_t flags_;
};

}  // namespace shmsync
