// Runs the ring-reader fuzz entry point over pseudo-random and mutated-valid inputs (so the
// normal ctest run, plain and under ASan/UBSan, covers the reader without clang/libFuzzer).
#define SHMSYNC_FUZZ_REPLAY 1
#include "ring-reader-fuzz.cc"

#include <unistd.h>

#include <random>
#include <string>

int main() {
  const std::string table = "ctest-owners-fuzz-" + std::to_string(getpid());
  setenv("SHMSYNC_OWNER_TABLE", table.c_str(), 1);
  std::mt19937_64 rng(12345);
  std::vector<uint8_t> input(16 + 1024);
  for (int iter = 0; iter < 20000; ++iter) {
    for (auto& b : input) b = static_cast<uint8_t>(rng());
    // Half of the inputs start from plausible positions and headers, then get mutated.
    if (iter % 2 == 0) {
      uint64_t head = (rng() % 4096) & ~uint64_t{7};
      uint64_t tail = head + ((rng() % 1100) & ~uint64_t{7});
      std::memcpy(input.data(), &head, 8);
      std::memcpy(input.data() + 8, &tail, 8);
      uint32_t len = static_cast<uint32_t>(rng() % 600),
               type = static_cast<uint32_t>(rng() % 3 == 0 ? 0xffffffffu : rng() % 300);
      const size_t at = 16 + (head & 1023);
      if (at + 8 <= input.size()) {
        std::memcpy(input.data() + at, &len, 4);
        std::memcpy(input.data() + at + 4, &type, 4);
      }
    }
    shmsync::FuzzRingReader(input.data(), input.size());
  }
  shmsync::ShmRegion::Unlink("shmsync-" + table);
  return 0;
}
