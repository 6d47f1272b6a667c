// Test hook: a ledger of the segment names this process creates.
//
// When the environment variable SHMSYNC_TEST_LEDGER names an existing file when the first
// segment is created, every creation appends one line to it: `+<name>` before the name may
// appear in /dev/shm (the private staging name and the public name), and `-<name>` when the
// public name turned out to belong to another creator (link() lost the race). The test
// runners (scripts/run-tap.js, scripts/test-native.js) read it back to judge leaks by what
// their own processes created, never by what other programs on the machine own.
//
// Outside test runs the variable is unset and this is one cached branch per creation: no
// syscall. The ledger is never created here (a missing or unwritable file disables it), and
// failures to write are ignored: it is bookkeeping, never a reason to fail a creation.
// Thread-safety: any thread; each record is one O_APPEND write(), so concurrent records from
// threads and processes never interleave within a line.
#pragma once

#include <string>

namespace shmsync {

enum class LedgerMark : char { kCreating = '+', kNotOurs = '-' };

// Appends `<mark><segment_name>\n` to the ledger, if one is configured.
void RecordInLedger(LedgerMark mark, const std::string& segment_name);

}  // namespace shmsync
