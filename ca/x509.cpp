// RAII helpers around OpenSSL: error reporting, encodings, certificate facts, and the
// atomic file writer every CA file (including private keys) goes through.
#include "ca/x509.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace portcullis::ca {

namespace {

// Drains the whole thread-local error queue so that a later, unrelated failure does not
// report stale entries. Only library/reason strings are kept: OpenSSL never puts key
// bytes into its error queue, so the message is safe to log.
std::string drain_error_queue() {
  std::string out;
  const char* file = nullptr;
  int line = 0;
  const char* data = nullptr;
  int flags = 0;
  unsigned long code = 0;
  while ((code = ERR_get_error_all(&file, &line, nullptr, &data, &flags)) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
      out += " (";
      out += data;
      out += ')';
    }
  }
  return out;
}

std::string with_queue(const std::string& context) {
  std::string queue = drain_error_queue();
  return queue.empty() ? context : context + ": " + queue;
}

BioPtr mem_bio(std::string_view data) {
  if (data.size() > static_cast<std::size_t>(INT_MAX)) throw std::invalid_argument("input too large");
  return BioPtr(check_ptr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())), "BIO_new_mem_buf"));
}

std::string bio_to_string(BIO* bio) {
  char* ptr = nullptr;
  long len = BIO_get_mem_data(bio, &ptr);
  if (len < 0 || (len > 0 && ptr == nullptr)) throw OpenSslError("BIO_get_mem_data");
  return std::string(ptr, static_cast<std::size_t>(len));
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's days_from_civil);
// avoids timegm(), which is not in POSIX.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

std::string general_name_to_string(const GENERAL_NAME* gn) {
  int type = 0;
  const void* value = GENERAL_NAME_get0_value(gn, &type);
  const auto* str = static_cast<const ASN1_STRING*>(value);
  auto text = [&] {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)),
                       static_cast<std::size_t>(ASN1_STRING_length(str)));
  };
  switch (type) {
    case GEN_DNS: return "DNS:" + text();
    case GEN_URI: return "URI:" + text();
    case GEN_EMAIL: return "email:" + text();
    case GEN_IPADD: {
      // RFC 5280 §4.2.1.6: iPAddress is 4 octets for IPv4, 16 for IPv6.
      char buf[INET6_ADDRSTRLEN] = {};
      const int len = ASN1_STRING_length(str);
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family == 0 || inet_ntop(family, ASN1_STRING_get0_data(str), buf, sizeof buf) == nullptr) {
        return "IP:<invalid>";
      }
      return std::string("IP:") + buf;
    }
    default: return {};  // otherName, DirName, …: not used for device identity
  }
}

OpenSslError::OpenSslError(const std::string& context) : std::runtime_error(with_queue(context)) {}

void check(int ok, const char* context) {
  if (ok != 1) throw OpenSslError(context);
}

// --- encoding helpers ----------------------------------------------------------

Sha256 sha256(std::span<const std::uint8_t> bytes) {
  Sha256 md{};
  unsigned int len = 0;
  check(EVP_Digest(bytes.data(), bytes.size(), md.data(), &len, EVP_sha256(), nullptr) == 1 && len == md.size(),
        "EVP_Digest");
  return md;
}

std::string sha256_lower_hex(std::span<const std::uint8_t> bytes) { return to_lower_hex(sha256(bytes)); }

Bytes random_bytes(std::size_t count) {
  Bytes out(count);
  check(count <= static_cast<std::size_t>(INT_MAX) && RAND_bytes(out.data(), static_cast<int>(count)) == 1, "RAND_bytes");
  return out;
}

X509Ptr cert_from_pem(std::string_view pem) {
  BioPtr bio = mem_bio(pem);
  return X509Ptr(check_ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), "PEM_read_bio_X509"));
}

X509Ptr cert_from_der(std::span<const std::uint8_t> der) {
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) throw std::invalid_argument("input too large");
  const unsigned char* p = der.data();
  X509Ptr cert(check_ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())), "d2i_X509"));
  if (p != der.data() + der.size()) throw std::invalid_argument("trailing bytes after DER certificate");
  return cert;
}

std::vector<X509Ptr> certs_from_pem(std::string_view pem) {
  BioPtr bio = mem_bio(pem);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  // The loop ends on "no start line" at end of input; anything else is a real error.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_REASON(last) == PEM_R_NO_START_LINE && !certs.empty()) {
    ERR_clear_error();
  } else if (last != 0 || certs.empty()) {
    throw OpenSslError("PEM_read_bio_X509 (chain)");
  }
  return certs;
}

std::string cert_to_pem(const X509* cert) {
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return bio_to_string(bio.get());
}

Bytes cert_to_der(const X509* cert) {
  return to_der(cert, i2d_X509, "i2d_X509");
}

X509ReqPtr csr_from_pem_or_der(std::string_view data) {
  X509ReqPtr req;
  if (data.find("-----BEGIN") != std::string_view::npos) {
    BioPtr bio = mem_bio(data);
    req.reset(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  } else if (data.size() <= static_cast<std::size_t>(LONG_MAX)) {
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const auto* end = p + data.size();
    req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(data.size())));
    if (req && p != end) req.reset();  // trailing garbage: refuse rather than guess
  }
  if (!req) {
    // Malformed input is the caller's fault, not an OpenSSL failure: report it as such and
    // leave no stale entries in the queue for the next operation on this thread.
    ERR_clear_error();
    throw std::invalid_argument("malformed CSR (neither PEM nor DER PKCS#10)");
  }
  return req;
}

// A structure parsed in this context keeps its SubjectPublicKeyInfo as bytes.
OSSL_LIB_CTX* keyless_library_context() {
  struct Keyless {
    OsslLibCtxPtr context{check_ptr(OSSL_LIB_CTX_new(), "OSSL_LIB_CTX_new")};
    OsslProviderPtr null_provider{check_ptr(OSSL_PROVIDER_load(context.get(), "null"), "OSSL_PROVIDER_load(null)")};
  };
  static const Keyless keyless;
  return keyless.context.get();
}

X509ReqPtr csr_from_der_without_key(std::span<const std::uint8_t> der) {
  if (der.size() > static_cast<std::size_t>(LONG_MAX)) return nullptr;
  const unsigned char* p = der.data();
  // ASN1_item_d2i_ex hands the library context down to the X509_PUBKEY decoder;
  // d2i_X509_REQ (even into an X509_REQ_new_ex object) decodes in the default one.
  X509ReqPtr req(reinterpret_cast<X509_REQ*>(ASN1_item_d2i_ex(nullptr, &p, static_cast<long>(der.size()),
                                                              ASN1_ITEM_rptr(X509_REQ), keyless_library_context(),
                                                              nullptr)));
  if (req && p != der.data() + der.size()) req.reset();   // trailing bytes: not one CSR
  ERR_clear_error();   // the opportunistic key decode failed on purpose
  return req;
}

std::string csr_to_pem(const X509_REQ* req) {
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509_REQ(bio.get(), req), "PEM_write_bio_X509_REQ");
  return bio_to_string(bio.get());
}

EvpPkeyPtr key_from_pem(std::string_view pem) {
  BioPtr bio = mem_bio(pem);
  // A refusing passphrase callback: with nullptr OpenSSL would prompt on the terminal for
  // an encrypted key, which would hang a service. Encrypted keys are simply not supported.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  return EvpPkeyPtr(
      check_ptr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr), "PEM_read_bio_PrivateKey"));
}

std::string key_to_pem(const EVP_PKEY* key) {
  // Secure-heap BIO: the intermediate PEM buffer is cleansed when freed.
  BioPtr bio(check_ptr(BIO_new(BIO_s_secmem()), "BIO_new"));
  check(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        "PEM_write_bio_PKCS8PrivateKey");
  return bio_to_string(bio.get());
}

// --- certificate facts -----------------------------------------------------------

Bytes serial_bytes(const X509* cert) {
  // RFC 5280 §4.1.2.2: positive INTEGER of up to 20 octets; we return its magnitude.
  BignumPtr bn(check_ptr(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr), "ASN1_INTEGER_to_BN"));
  Bytes out(static_cast<std::size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

std::string serial_hex(const X509* cert) { return to_hex(serial_bytes(cert)); }

std::string sha256_fingerprint_hex(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  check(X509_digest(cert, EVP_sha256(), md, &len), "X509_digest");
  return to_hex(std::span<const std::uint8_t>(md, len));
}

std::string utf8_text(const ASN1_STRING* s) {
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, s);
  if (len < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

std::string subject_string(const X509* cert) { return name_to_string(X509_get_subject_name(cert)); }

std::string name_to_string(const X509_NAME* name) {
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) throw OpenSslError("X509_NAME_print_ex");
  return bio_to_string(bio.get());
}

std::vector<std::string> subject_alt_names(const X509* cert) {
  int crit = 0;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  std::vector<std::string> out;
  if (!names) {
    // crit == -1: absent (fine); -2: present more than once; otherwise it did not parse.
    if (crit != -1) throw OpenSslError("subjectAltName");
    return out;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    std::string s = general_name_to_string(sk_GENERAL_NAME_value(names.get(), i));
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::int64_t not_before_unix(const X509* cert) { return asn1_time_to_unix(X509_get0_notBefore(cert)); }
std::int64_t not_after_unix(const X509* cert) { return asn1_time_to_unix(X509_get0_notAfter(cert)); }

std::int64_t asn1_time_to_unix(const ASN1_TIME* t) {
  // RFC 5280 §4.1.2.5: UTCTime / GeneralizedTime, always in UTC (Z).
  std::tm tm{};
  check(ASN1_TIME_to_tm(t, &tm), "ASN1_TIME_to_tm");
  const std::int64_t days = days_from_civil(static_cast<std::int64_t>(tm.tm_year) + 1900,
                                            static_cast<unsigned>(tm.tm_mon + 1), static_cast<unsigned>(tm.tm_mday));
  return days * 86400 + tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

// --- files ---------------------------------------------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("error reading " + path);
  return ss.str();
}

namespace {

std::string sys_error(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

void write_file(const std::string& path, std::string_view data, unsigned mode) {
  // The temp file is created with O_EXCL and the final mode in one syscall, so a private
  // key is never readable by others, not even between open() and chmod().
  const std::string tmp = path + ".tmp." + to_hex(random_bytes(8));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode)));
  if (fd.get() < 0) throw std::runtime_error(sys_error("cannot create", tmp));
  auto fail = [&](const std::string& what) {
    const std::string msg = sys_error(what, tmp);
    fd.close();
    ::unlink(tmp.c_str());
    throw std::runtime_error(msg);
  };
  // umask may have removed bits from `mode`; set exactly what the caller asked for.
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) fail("cannot chmod");
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  // Data on disk before the rename makes it visible: a crash leaves the old or the new file.
  if (::fsync(fd.get()) != 0) fail("cannot fsync");
  if (fd.close() != 0) fail("cannot close");
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = sys_error("cannot rename to", path);
    ::unlink(tmp.c_str());
    throw std::runtime_error(msg);
  }
  // Persist the directory entry too; failure here only weakens durability, not correctness.
  Fd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) ::fsync(dir.get());
}

}  // namespace portcullis::ca
