// A ShmQueue ring in a fresh shared-memory segment, for the ctest binaries that drive the ring
// (ring-test.cc, ring-wake-test.cc; corruption-test.cc uses the init callback): create and
// validate it, put a batch of framed records waiting for space, unlink it. Runs in the test's
// process; forked children use the inherited mapping. Header-only: each test binary is one
// translation unit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "owner-table.h"
#include "ring.h"
#include "shm-region.h"

namespace shmsync_test {

struct TestRing {
  std::shared_ptr<shmsync::ShmRegion> region;
  std::shared_ptr<shmsync::OwnerTable> table;
  shmsync::RingState* r = nullptr;
  std::string name;
};

struct TestRingInit {
  uint64_t capacity;
  uint32_t max_message;
};

// ShmRegion init callback: lays out an empty ring (runs once, in the creating process).
inline void InitTestRing(uint8_t* p, uint64_t, const void* arg) {
  auto* a = static_cast<const TestRingInit*>(arg);
  shmsync::InitRing(reinterpret_cast<shmsync::RingState*>(p), a->capacity, a->max_message);
}

// Creates the segment "shmsync-ctest-<prefix>-<tag>-<pid>" holding an empty ring of `capacity`
// data bytes and checks that ValidateRing accepts it. Aborts (CHECK) on any failure.
inline void CreateTestRing(TestRing* q, const char* prefix, const char* tag, uint64_t capacity,
                           uint32_t max_message) {
  using namespace shmsync;
  q->name = "shmsync-ctest-" + std::string(prefix) + "-" + std::string(tag) + "-" +
            std::to_string(getpid());
  TestRingInit args{capacity, max_message};
  bool created = false;
  CHECK(ShmRegion::Acquire(q->name, Kind::kQueue, kRingDataOffset + capacity, OpenMode::kCreate,
                           0600, InitTestRing, &args, &q->region, &created)
            .ok());
  CHECK(OwnerTable::Shared(&q->table).ok());
  q->r = reinterpret_cast<RingState*>(q->region->payload());
  CHECK_EQ(ValidateRing(q->r, q->region->payload_size()), Status::kOk);
}

// Drops this process's mapping and unlinks the segment.
inline void UnlinkTestRing(TestRing* q) {
  q->region.reset();
  CHECK(shmsync::ShmRegion::Unlink(q->name).ok());
}

// Puts the `count` framed records of `buf` as owner `me`, waiting without a deadline for space
// for the next record whenever the ring takes only part of the batch. Returns kOk once all are
// written, else the first other status of PutRecords or WaitSpace (nothing is retried).
inline shmsync::Status PutAllRecords(TestRing& q, shmsync::OwnerId me,
                                     const std::vector<uint8_t>& buf, uint32_t count) {
  using namespace shmsync;
  uint64_t off = 0;
  uint32_t done = 0;
  while (done < count) {
    uint32_t written = 0;
    RecordBatch rest{buf.data() + off, buf.size() - off, count - done};
    Status st = PutRecords(q.r, q.table.get(), me, rest, &written);
    if (st != Status::kOk) return st;
    for (uint32_t i = 0; i < written; ++i) {
      uint32_t len;
      std::memcpy(&len, buf.data() + off, 4);
      off += RecordBytes(len);
    }
    done += written;
    if (done < count) {
      uint32_t len;
      std::memcpy(&len, buf.data() + off, 4);
      st = WaitSpace(q.r, RecordBytes(len), -1);
      if (st != Status::kOk) return st;
    }
  }
  return Status::kOk;
}

}  // namespace shmsync_test
