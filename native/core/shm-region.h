// A mapped POSIX shared-memory segment with a validated SegmentHeader.
//
// Thread-safety: a ShmRegion is immutable after Create/Open returns; any thread may read
// data()/size(). The mapping lives until the last shared_ptr owner drops it (the JS handle and
// every external ArrayBuffer over it each hold one), so JS can never touch unmapped memory.
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
  // reports whether this call created the segment. `owner` applies to opening an existing one.
  static Result Acquire(const std::string& segment_name, Kind kind, uint64_t payload_size,
                        OpenMode mode, uint32_t perm, PayloadInit init, const void* init_arg,
                        std::shared_ptr<ShmRegion>* out, bool* created,
                        OwnerCheck owner = OwnerCheck::kMine);
  static Result Unlink(const std::string& segment_name);

  uint8_t* payload() const { return base_ + header()->payload_offset; }
  uint64_t payload_size() const { return payload_size_; }
  const SegmentHeader* header() const { return reinterpret_cast<const SegmentHeader*>(base_); }
  const std::string& segment_name() const { return segment_name_; }

 private:
  ShmRegion(std::string segment_name, uint8_t* base, uint64_t total, uint64_t payload_size)
      : segment_name_(std::move(segment_name)), base_(base), total_(total),
        payload_size_(payload_size) {}

  static Result Create(const std::string& segment_name, Kind kind, uint64_t payload_size,
                       uint32_t perm, PayloadInit init, const void* init_arg,
                       std::shared_ptr<ShmRegion>* out);
  static Result Open(const std::string& segment_name, Kind kind, uint64_t payload_size,
                     OwnerCheck owner, std::shared_ptr<ShmRegion>* out);

  std::string segment_name_;
  uint8_t* base_;
  uint64_t total_;
  uint64_t payload_size_;
};


}  // namespace shmsync
