// Create/open of shmsync segments. Runs on whatever thread calls it (JS threads, tests).
//
// Publication protocol (Linux): the segment is created as an unnamed O_TMPFILE inode (or, where
// that is unavailable, under a private temporary name), its pages reserved with posix_fallocate,
// mapped and its header and payload initialised, then link()ed to the public name in /dev/shm.
// link() is atomic and fails with EEXIST if another process won the race, so no process can ever
// open a half-initialised segment and N racing creators end up attached to exactly one segment.
#include "shm-region.h"

#include "attach.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <random>

#include "test-ledger.h"

namespace shmsync {

namespace {

constexpr const char* kShmDir = "/dev/shm/";
constexpr uint64_t kPayloadOffset = kHeaderSize;
constexpr int kMaxOpenOrCreateRounds = 64;  // each round loses a create race to an unlink

Result FromErrno(int err, const char* call) {
  if (err == ENOENT) return Result::Of(Status::kNotFound);
  if (err == EEXIST) return Result::Of(Status::kExists);
  if (err == EACCES || err == EPERM) return {Status::kPermission, err, call};
  if (err == ENOSPC) return {Status::kNoSpace, err, call};
  return {Status::kSystem, err, call};
}

std::string TempName() {
  static std::atomic<uint64_t> counter{0};
  // One random word per process image (thread-safe static init), not a std::random_device
  // (an open/read/close of the entropy source) per create: pid + counter make it unique in a
  // process, the word keeps a name another program might guess from being predictable.
  static const unsigned salt = std::random_device{}();
  char buf[96];
  std::snprintf(buf, sizeof buf, "shmsync.tmp-%d-%08x-%llu", static_cast<int>(getpid()), salt,
                static_cast<unsigned long long>(counter.fetch_add(1, std::memory_order_relaxed)));
  return buf;
}

// Whether O_TMPFILE + linkat(/proc/self/fd/N) works here: probed by the first create, then
// remembered (0 unknown, 1 yes, 2 no) - an access() per create was a syscall on every create.
// Any thread; relaxed: racing probes reach the same answer.
std::atomic<int> tmpfile_support{0};

// Creates the unnamed-or-temporary file the segment is initialised in. Preferred: an O_TMPFILE
// inode in /dev/shm, which has no name at all, so no failure (not even SIGKILL) can leave a file
// behind; it is published with linkat() through /proc/self/fd. Fallback (no O_TMPFILE support,
// or no /proc): a private temporary name, unlinked on every path before Create returns.
int OpenUnnamed(uint32_t perm, std::string* tmp_name) {
  tmp_name->clear();
  int support = tmpfile_support.load(std::memory_order_relaxed);
  if (support == 0) {
    support = access("/proc/self/fd", X_OK) == 0 ? 1 : 2;
    tmpfile_support.store(support, std::memory_order_relaxed);
  }
  if (support == 1) {
    int fd = open(kShmDir, O_TMPFILE | O_RDWR | O_CLOEXEC, perm & 07777);
    if (fd >= 0) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOENT) return -1;
    tmpfile_support.store(2, std::memory_order_relaxed);  // the file system has no O_TMPFILE
  }
  *tmp_name = TempName();
  return shm_open(("/" + *tmp_name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, perm & 07777);
}

// Gives the initialised file its public name; fails with EEXIST if another creator won.
int Publish(int fd, const std::string& tmp_name, const std::string& segment_name) {
  const std::string to = std::string(kShmDir) + segment_name;
  if (tmp_name.empty()) {
    const std::string from = "/proc/self/fd/" + std::to_string(fd);
    return linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), AT_SYMLINK_FOLLOW);
  }
  return link((std::string(kShmDir) + tmp_name).c_str(), to.c_str());
}

// The ownership rule of OwnerCheck, applied to fstat of the descriptor we will map.
Result CheckOwner(const struct stat& st, OwnerCheck owner) {
  if (owner == OwnerCheck::kAnyOwner) return Result::Ok();
  const bool mine = st.st_uid == geteuid();
  const bool private_mode = (st.st_mode & 077) == 0;
  if (mine && (owner == OwnerCheck::kMine || private_mode)) return Result::Ok();
  Result r = Result::Of(Status::kPermission);
  r.owner_uid = static_cast<int64_t>(st.st_uid);
  r.file_mode = static_cast<uint32_t>(st.st_mode & 07777);
  return r;
}

// A segment name is one file name inside /dev/shm: non-empty, at most NAME_MAX bytes, no '/'
// (a path: Publish's linkat would follow it out of /dev/shm), no NUL (c_str() would silently
// name another segment), not "." or "..". The facade validates logical names; this is the
// native boundary's own check (a caller that bypasses the facade gets EINVAL, never a path).
bool ValidSegmentName(const std::string& name) {
  return !name.empty() && name.size() <= NAME_MAX && name != "." && name != ".." &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

Result Result::Errno(int err, const char* call) { return FromErrno(err, call); }

ShmRegion::~ShmRegion() {
  if (base_ != nullptr) munmap(base_, total_);
}

Result ShmRegion::Create(const std::string& segment_name, Kind kind, uint64_t payload_size,
                         uint32_t perm, PayloadInit init, const void* init_arg,
                         std::shared_ptr<ShmRegion>* out, uint32_t header_flags) {
  const uint64_t total = kPayloadOffset + payload_size;
  if (payload_size == 0 || total > kMaxSegmentSize + kPayloadOffset) {
    return Result::Of(Status::kSizeMismatch);
  }
  std::string tmp;
  int fd = OpenUnnamed(perm, &tmp);
  if (!tmp.empty())
    RecordInLedger(LedgerMark::kCreating, tmp);  // test runs only: see test-ledger.h
  if (fd < 0) return FromErrno(errno, "shm_open");
  Result result = Result::Ok();
  void* base = MAP_FAILED;
  // fchmod: shm_open applies the umask; the caller's mode is what the user asked for. An
  // attached segment also gets S_ISVTX (ignored on files by Linux): its lifetime mark that only
  // the owner can set, so nobody with mere write access can turn a persistent segment into one
  // the attached logic would unlink by forging the header's flag (see attach.h).
  const bool attached = (header_flags & attach::kFlagAttached) != 0;
  if (fchmod(fd, (perm & 0777) | (attached ? S_ISVTX : 0)) != 0) {
    result = FromErrno(errno, "fchmod");
  } else if (int err = posix_fallocate(fd, 0, static_cast<off_t>(total)); err != 0) {
    // Reserve every page now (this also sets the size): on a full /dev/shm this is ENOSPC, a
    // coded error, where ftruncate alone would succeed and the first write to a page the tmpfs
    // cannot supply would kill the process with SIGBUS.
    result = FromErrno(err, "posix_fallocate");
  } else {
    base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) result = FromErrno(errno, "mmap");
  }
  if (result.ok()) {
    auto* h = static_cast<SegmentHeader*>(base);
    h->magic = kMagic;
    h->version = kLayoutVersion;
    h->kind = static_cast<uint16_t>(kind);
    h->flags = 0;
    h->total_size = total;
    h->payload_offset = kPayloadOffset;
    h->payload_size = payload_size;
    if ((header_flags & attach::kFlagAttached) != 0) attach::InitCreated(h);  // lifetime (attach.h)
    uint8_t* payload = static_cast<uint8_t*>(base) + kPayloadOffset;
    if (init != nullptr) init(payload, payload_size, init_arg);
    // Publish: link makes the fully written file visible under its public name at once.
    RecordInLedger(LedgerMark::kCreating, segment_name);  // test runs only: see test-ledger.h
    if (Publish(fd, tmp, segment_name) != 0) {
      result = FromErrno(errno, "link");
      RecordInLedger(LedgerMark::kNotOurs, segment_name);  // EEXIST: another creator's
    }
  }
  if (!tmp.empty()) shm_unlink(("/" + tmp).c_str());  // every path: no temporary name survives
  close(fd);
  if (!result.ok()) {
    if (base != MAP_FAILED) munmap(base, total);
    return result;
  }
  out->reset(new ShmRegion(segment_name, static_cast<uint8_t*>(base), total, kPayloadOffset,
                           payload_size, header_flags & attach::kFlagAttached));
  return Result::Ok();
}

Result ShmRegion::Open(const std::string& segment_name, Kind kind, uint64_t payload_size,
                       OwnerCheck owner, std::shared_ptr<ShmRegion>* out) {
  const std::string shm = "/" + segment_name;
  int fd = shm_open(shm.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    Result r = FromErrno(errno, "shm_open");
    struct stat named;  // for the message only: who owns the name we may not open
    if (r.status == Status::kPermission && stat((kShmDir + segment_name).c_str(), &named) == 0) {
      r.owner_uid = static_cast<int64_t>(named.st_uid);
      r.file_mode = static_cast<uint32_t>(named.st_mode & 07777);
    }
    return r;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Result r = FromErrno(errno, "fstat");
    close(fd);
    return r;
  }
  // Before reading a byte: a segment someone else planted under our name is not ours.
  Result trusted = CheckOwner(st, owner);
  if (!trusted.ok()) {
    close(fd);
    return trusted;
  }
  // Validate against the file before mapping: mapping past EOF would SIGBUS on access.
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < kHeaderSize) {
    close(fd);
    return Result::Of(Status::kCorrupt);
  }
  SegmentHeader h;
  if (pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
    close(fd);
    return Result::Of(Status::kCorrupt);
  }
  Status bad = Status::kOk;
  if (h.magic != kMagic) {
    bad = Status::kCorrupt;
  } else if (h.version != kLayoutVersion) {
    bad = Status::kVersionMismatch;
  } else if (h.kind != static_cast<uint16_t>(kind)) {
    bad = Status::kKindMismatch;
  } else if (h.total_size != file_size || h.payload_offset != kPayloadOffset ||
             h.payload_size != h.total_size - h.payload_offset ||
             h.total_size > kMaxSegmentSize + kPayloadOffset) {
    bad = Status::kCorrupt;
  } else if (payload_size != 0 && h.payload_size != payload_size) {
    bad = Status::kSizeMismatch;
  }
  if (bad != Status::kOk) {
    close(fd);
    return Result::Of(bad);
  }
  void* base = mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  close(fd);
  if (base == MAP_FAILED) return FromErrno(map_errno, "mmap");
  // Every pointer and bound comes from the validated private copy `h`, never from the mapping.
  // The attached flag counts only with the owner's S_ISVTX mark (see Create): a forged flag on a
  // persistent segment leaves it persistent.
  uint32_t flags = h.flags;
  if ((st.st_mode & S_ISVTX) == 0) flags &= ~attach::kFlagAttached;
  out->reset(new ShmRegion(segment_name, static_cast<uint8_t*>(base), file_size, h.payload_offset,
                           h.payload_size, flags));
  return Result::Ok();
}

Result ShmRegion::Acquire(const std::string& segment_name, Kind kind, uint64_t payload_size,
                          OpenMode mode, uint32_t perm, PayloadInit init, const void* init_arg,
                          std::shared_ptr<ShmRegion>* out, bool* created, uint32_t header_flags,
                          OwnerCheck owner) {
  *created = false;
  if (!ValidSegmentName(segment_name)) return {Status::kSystem, EINVAL, "segment name"};
  if (mode == OpenMode::kOpen) return Open(segment_name, kind, payload_size, owner, out);
  if (mode == OpenMode::kCreate) {
    Result r = Create(segment_name, kind, payload_size, perm, init, init_arg, out, header_flags);
    *created = r.ok();
    return r;
  }
  // Open-or-create: bounded, because between our failed open and failed create another
  // process may have created and unlinked the segment.
  for (int round = 0; round < kMaxOpenOrCreateRounds; ++round) {
    Result r = Open(segment_name, kind, payload_size, owner, out);
    if (r.status != Status::kNotFound) return r;
    r = Create(segment_name, kind, payload_size, perm, init, init_arg, out, header_flags);
    if (r.status != Status::kExists) {
      *created = r.ok();
      return r;
    }
  }
  return Result::Of(Status::kBusy);
}

Result ShmRegion::Unlink(const std::string& segment_name) {
  if (!ValidSegmentName(segment_name)) return {Status::kSystem, EINVAL, "segment name"};
  const std::string shm = "/" + segment_name;
  if (shm_unlink(shm.c_str()) != 0) return FromErrno(errno, "shm_unlink");
  return Result::Ok();
}

}  // namespace shmsync
