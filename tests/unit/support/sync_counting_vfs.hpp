// An SQLite VFS for tests that forwards everything to the default one and counts xSync
// calls: what a durable commit costs (https://sqlite.org/vfs.html). Installed as the
// default VFS, so a ledger opened afterwards goes through it without knowing.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>

namespace portcullis::testing {

class SyncCountingVfs {
 public:
  // Registers the VFS as the default for connections opened from now on.
  SyncCountingVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    if (real_ == nullptr) throw std::runtime_error("no default SQLite VFS");
    vfs_ = *real_;
    vfs_.zName = "sync-counting";
    vfs_.pNext = nullptr;
    vfs_.szOsFile = static_cast<int>(sizeof(File)) + real_->szOsFile;
    // Only xOpen is ours; the copied methods read nothing but what the copy kept.
    vfs_.xOpen = &open;
    instance() = this;
    if (sqlite3_vfs_register(&vfs_, 1) != SQLITE_OK) throw std::runtime_error("sqlite3_vfs_register");
  }
  // Every connection opened through it must be closed first.
  ~SyncCountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    sqlite3_vfs_register(real_, 1);
    instance() = nullptr;
  }
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  std::uint64_t syncs() const { return syncs_.load(); }

 private:
  // Our sqlite3_file, followed in the same allocation by the real VFS's file.
  struct File {
    sqlite3_file base;
    sqlite3_file* real;
  };

  static SyncCountingVfs*& instance() {
    static SyncCountingVfs* self = nullptr;
    return self;
  }
  static sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<File*>(f)->real; }

  static int open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
    auto* file = reinterpret_cast<File*>(f);
    file->real = reinterpret_cast<sqlite3_file*>(file + 1);
    sqlite3_vfs* r = instance()->real_;
    const int rc = r->xOpen(r, name, file->real, flags, out_flags);
    file->base.pMethods = file->real->pMethods != nullptr ? &methods() : nullptr;
    return rc;
  }

  static const sqlite3_io_methods& methods() {
    static const sqlite3_io_methods m = {
        3,
        [](sqlite3_file* f) { return real(f)->pMethods->xClose(real(f)); },
        [](sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return real(f)->pMethods->xRead(real(f), b, n, o); },
        [](sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
          return real(f)->pMethods->xWrite(real(f), b, n, o);
        },
        [](sqlite3_file* f, sqlite3_int64 n) { return real(f)->pMethods->xTruncate(real(f), n); },
        [](sqlite3_file* f, int flags) {
          ++instance()->syncs_;
          return real(f)->pMethods->xSync(real(f), flags);
        },
        [](sqlite3_file* f, sqlite3_int64* n) { return real(f)->pMethods->xFileSize(real(f), n); },
        [](sqlite3_file* f, int l) { return real(f)->pMethods->xLock(real(f), l); },
        [](sqlite3_file* f, int l) { return real(f)->pMethods->xUnlock(real(f), l); },
        [](sqlite3_file* f, int* r) { return real(f)->pMethods->xCheckReservedLock(real(f), r); },
        [](sqlite3_file* f, int op, void* a) { return real(f)->pMethods->xFileControl(real(f), op, a); },
        [](sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); },
        [](sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); },
        [](sqlite3_file* f, int region, int size, int extend, void volatile** p) {
          return real(f)->pMethods->xShmMap(real(f), region, size, extend, p);
        },
        [](sqlite3_file* f, int offset, int n, int flags) {
          return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
        },
        [](sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); },
        [](sqlite3_file* f, int del) { return real(f)->pMethods->xShmUnmap(real(f), del); },
        [](sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return real(f)->pMethods->xFetch(real(f), o, n, p); },
        [](sqlite3_file* f, sqlite3_int64 o, void* p) { return real(f)->pMethods->xUnfetch(real(f), o, p); },
    };
    return m;
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  std::atomic<std::uint64_t> syncs_{0};
};

}  // namespace portcullis::testing
