// Minimal assertion helpers for the ctest binaries (no test framework dependency).
#pragma once

#include <cstdio>
#include <cstdlib>

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#define CHECK_EQ(a, b) CHECK((a) == (b))

#define RUN(test)                                \
  do {                                           \
    std::fprintf(stderr, "[ RUN ] %s\n", #test); \
    test();                                      \
    std::fprintf(stderr, "[  OK ] %s\n", #test); \
  } while (0)
