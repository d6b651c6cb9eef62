// read_private_key_file: owner-only keys load, any group/other access is refused with the
// file's name and the chmod that fixes it.
#include "ca/key_file.hpp"

#include "ca/x509.hpp"
#include "signing_support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

namespace portcullis::ca {
namespace {

using testing::TempDir;

std::string write_key_file(const TempDir& dir, mode_t mode) {
  const std::string path = dir.path() + "/k.key";
  write_file(path, "-----BEGIN PRIVATE KEY-----\n", 0600);
  if (::chmod(path.c_str(), mode) != 0) throw std::runtime_error("chmod " + path);
  return path;
}

TEST(KeyFile, OwnerOnlyModesAreRead) {
  for (const mode_t mode : {0600, 0400, 0700}) {
    TempDir dir;
    const std::string path = write_key_file(dir, mode);
    EXPECT_EQ(read_private_key_file(path), "-----BEGIN PRIVATE KEY-----\n") << std::oct << mode;
  }
}

TEST(KeyFile, AnyGroupOrOtherAccessIsRefusedWithTheFixInTheMessage) {
  for (const mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0666}) {
    TempDir dir;
    const std::string path = write_key_file(dir, mode);
    try {
      read_private_key_file(path);
      ADD_FAILURE() << "read a key of mode " << std::oct << mode;
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("chmod 600 " + path), std::string::npos) << what;
      EXPECT_NE(what.find("too open"), std::string::npos) << what;
      EXPECT_EQ(what.find("BEGIN PRIVATE KEY"), std::string::npos) << "no key material in messages";
    }
  }
}

TEST(KeyFile, MissingFilesAndDirectoriesAreRefusedByName) {
  TempDir dir;
  const std::string missing = dir.path() + "/absent.key";
  try {
    read_private_key_file(missing);
    ADD_FAILURE() << "read a missing file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing), std::string::npos) << e.what();
  }
  ::chmod(dir.path().c_str(), 0700);
  try {
    read_private_key_file(dir.path());
    ADD_FAILURE() << "read a directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace portcullis::ca
