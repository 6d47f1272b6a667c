// libFuzzer target over the record reader: the fuzzer's bytes become the shared ring state
// and data (untrusted shared memory); GetRecords must return a status, never read or write out
// of bounds. Built with clang and -DSHMSYNC_FUZZ=ON; ring-fuzz-replay-test.cc runs the same
// entry point over pseudo-random inputs under ASan in the normal ctest suite.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "owner-table.h"
#include "ring.h"

namespace shmsync {

int FuzzRingReader(const uint8_t* input, size_t size) {
  constexpr uint64_t kCapacity = 1024;
  static std::vector<uint8_t> ring(kRingDataOffset + kCapacity);
  static std::vector<uint8_t> out(4096);
  static std::shared_ptr<OwnerTable> table;
  static OwnerId me = 0;
  if (!table) {
    if (!OwnerTable::Shared(&table).ok() || !table->Claim(&me).ok()) return 0;
  }
  auto* r = reinterpret_cast<RingState*>(ring.data());
  InitRing(r, kCapacity, static_cast<uint32_t>(MaxMessageLimit(kCapacity)));
  // First 16 bytes: head and tail; the rest: ring data.
  uint64_t head = 0, tail = 0;
  if (size >= 16) {
    std::memcpy(&head, input, 8);
    std::memcpy(&tail, input + 8, 8);
    input += 16;
    size -= 16;
  }
  r->head.store(head);
  r->tail.store(tail);
  std::memset(ring.data() + kRingDataOffset, 0, kCapacity);
  std::memcpy(ring.data() + kRingDataOffset, input, size < kCapacity ? size : kCapacity);
  for (int round = 0; round < 4; ++round) {
    uint32_t count = 0;
    uint64_t bytes = 0;
    Status st = GetRecords(r, table.get(), me, out.data(), out.size(), 64, &count, &bytes);
    if (bytes > out.size()) __builtin_trap();
    if (st != Status::kOk || count == 0) break;
  }
  return 0;
}

}  // namespace shmsync

#ifndef SHMSYNC_FUZZ_REPLAY
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return shmsync::FuzzRingReader(data, size);
}
#endif
