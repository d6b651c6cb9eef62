#include "radius/eap/tls_library_context.hpp"

#include "ca/x509.hpp"

#include <openssl/core_dispatch.h>
#include <openssl/provider.h>

#include <string_view>
#include <vector>

namespace portcullis::radius::eap {
namespace {

constexpr const char* kProviderName = "portcullis-eap";

// What the forwarding provider forwards to. The provider API hands our functions only the
// provider context, and that is the default provider's own (its implementations need it),
// so this state is reached through one pointer set before the provider is loaded.
struct Forwarding {
  ca::OsslLibCtxPtr inner{ca::check_ptr(OSSL_LIB_CTX_new(), "OSSL_LIB_CTX_new")};
  ca::OsslProviderPtr default_provider{
      ca::check_ptr(OSSL_PROVIDER_load(inner.get(), "default"), "OSSL_PROVIDER_load(default)")};
  std::vector<OSSL_ALGORITHM> decoders;  // terminated by an all-null entry, as providers return them
};
const Forwarding* forwarding = nullptr;

bool reads_der_subject_public_key_info(const OSSL_ALGORITHM& algorithm) {
  const std::string_view properties = algorithm.property_definition != nullptr ? algorithm.property_definition : "";
  return properties.find("input=der") != std::string_view::npos &&
         properties.find("structure=SubjectPublicKeyInfo") != std::string_view::npos;
}

const OSSL_ALGORITHM* query_operation(void* /*provctx*/, int operation_id, int* no_cache) {
  if (operation_id == OSSL_OP_DECODER) {
    *no_cache = 0;
    return forwarding->decoders.data();
  }
  return OSSL_PROVIDER_query_operation(forwarding->default_provider.get(), operation_id, no_cache);
}

void unquery_operation(void* /*provctx*/, int operation_id, const OSSL_ALGORITHM* algorithms) {
  if (operation_id != OSSL_OP_DECODER)
    OSSL_PROVIDER_unquery_operation(forwarding->default_provider.get(), operation_id, algorithms);
}

// libssl learns the TLS groups (and their key exchange) from here (provider-base(7)).
int get_capabilities(void* /*provctx*/, const char* capability, OSSL_CALLBACK* callback, void* argument) {
  return OSSL_PROVIDER_get_capabilities(forwarding->default_provider.get(), capability, callback, argument);
}

const OSSL_PARAM* gettable_params(void* /*provctx*/) {
  return OSSL_PROVIDER_gettable_params(forwarding->default_provider.get());
}

int get_params(void* /*provctx*/, OSSL_PARAM params[]) {
  return OSSL_PROVIDER_get_params(forwarding->default_provider.get(), params);
}

// The default provider stays loaded in the private context, which tears it down itself.
void teardown(void* /*provctx*/) {}

template <typename Function>
void (*as_dispatch(Function* function))(void) {
  return reinterpret_cast<void (*)(void)>(function);
}

int provider_init(const OSSL_CORE_HANDLE* /*handle*/, const OSSL_DISPATCH* /*core*/, const OSSL_DISPATCH** out,
                  void** provctx) {
  static const OSSL_DISPATCH dispatch[] = {
      {OSSL_FUNC_PROVIDER_QUERY_OPERATION, as_dispatch(&query_operation)},
      {OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, as_dispatch(&unquery_operation)},
      {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, as_dispatch(&get_capabilities)},
      {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, as_dispatch(&gettable_params)},
      {OSSL_FUNC_PROVIDER_GET_PARAMS, as_dispatch(&get_params)},
      {OSSL_FUNC_PROVIDER_TEARDOWN, as_dispatch(&teardown)},
      {0, nullptr}};
  *out = dispatch;
  *provctx = OSSL_PROVIDER_get0_provider_ctx(forwarding->default_provider.get());
  return 1;
}

struct EapTlsContext {
  Forwarding target;
  ca::OsslLibCtxPtr context;
  ca::OsslProviderPtr provider;

  EapTlsContext() {
    int no_cache = 0;
    const OSSL_ALGORITHM* all =
        OSSL_PROVIDER_query_operation(target.default_provider.get(), OSSL_OP_DECODER, &no_cache);
    for (const OSSL_ALGORITHM* a = all; a != nullptr && a->algorithm_names != nullptr; ++a) {
      if (reads_der_subject_public_key_info(*a)) target.decoders.push_back(*a);
    }
    if (target.decoders.empty()) throw ca::OpenSslError("the default provider has no SubjectPublicKeyInfo decoder");
    target.decoders.push_back(OSSL_ALGORITHM{nullptr, nullptr, nullptr, nullptr});

    forwarding = &target;

    context.reset(ca::check_ptr(OSSL_LIB_CTX_new(), "OSSL_LIB_CTX_new"));
    ca::check(OSSL_PROVIDER_add_builtin(context.get(), kProviderName, &provider_init), "OSSL_PROVIDER_add_builtin");
    provider.reset(ca::check_ptr(OSSL_PROVIDER_load(context.get(), kProviderName), "OSSL_PROVIDER_load(portcullis-eap)"));
  }
  // Members go in reverse: our provider and its context first, then the default provider
  // and the private context it forwards to.
};

}  // namespace

OSSL_LIB_CTX* tls_library_context() {
  static const EapTlsContext context;
  return context.context.get();
}

}  // namespace portcullis::radius::eap
