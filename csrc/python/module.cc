// he_tf._core: key generation, parameter rules and key-container headers for
// the Python layer. Ciphertext work goes through the TF ops, not here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "core/adopt_keys.h"
#include "core/ckks.h"
#include "core/key_header.h"
#include "core/keygen.h"
#include "core/plans.h"
#include "core/public_context.h"
#include "core/seal_load.h"
#include "core/secret_key.h"
#include "seal/version.h"

namespace py = pybind11;

namespace {

he_tf::CkksParams MakeParams(std::size_t n, std::vector<int> bits, int scale_bits) {
  he_tf::CkksParams p;
  p.poly_modulus_degree = n;
  p.coeff_mod_bit_sizes = std::move(bits);
  p.scale_bits = scale_bits;
  return p;
}

py::tuple HeaderTuple(const he_tf::KeyHeader& h) {
  return py::make_tuple(h.key_id, h.params.poly_modulus_degree, h.params.coeff_mod_bit_sizes, h.params.scale_bits);
}

// A parsed public context, opaque to Python: what the loaders below check against.
struct LoadedContext {
  std::shared_ptr<const he_tf::PublicContext> context;
};

std::string_view View(const py::bytes& b) {
  char* data;
  Py_ssize_t size;
  PyBytes_AsStringAndSize(b.ptr(), &data, &size);
  return {data, static_cast<std::size_t>(size)};
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "he-tf native core (SEAL CKKS key generation and parameter rules)";

  m.def("seal_version", [] {
    return std::to_string(SEAL_VERSION_MAJOR) + "." + std::to_string(SEAL_VERSION_MINOR) + "." +
           std::to_string(SEAL_VERSION_PATCH);
  });

  // Plans (csrc/core/plans.h): the rotations and levels the kernels use, read by the Python layer.
  m.def(
      "diagonal_matmul_rotations",
      [](std::size_t in, std::size_t out, std::size_t slots) { return he_tf::PlanDiagonal(in, out, slots).Rotations(); },
      py::arg("inputs"), py::arg("outputs"), py::arg("slots"),
      "Left rotations of the diagonal method for an inputs x outputs matrix on the packed axis.");
  m.def("sum_slots_rotations", &he_tf::SumSlotsRotations, py::arg("n"),
        "Left rotations of the rotate-and-add sum over the first n slots.");
  m.def("naf_rotations", &he_tf::NafRotations, py::arg("steps"), py::arg("slots"),
        "The rotations a rotation by `steps` is composed of without its own Galois key.");
  m.def("poly_depth", &he_tf::PolyDepth, py::arg("degree"), "Levels a polynomial of `degree` takes.");
  m.def("product_levels", [] { return he_tf::kProductLevels; }, "Levels one (rescaled) product takes.");
  m.def("block_dense_rotations", &he_tf::BlockDenseRotations, py::arg("slots"), py::arg("samples"),
        py::arg("blocks"), py::arg("outputs"), "Left rotations of a dense layer on samples in block layout.");

  m.def("max_coeff_modulus_bits", &he_tf::MaxCoeffModulusBits, py::arg("poly_modulus_degree"),
        "Largest total coefficient modulus bits for 128-bit security (0 if unsupported).");

  m.def(
      "validate_params",
      [](std::size_t n, std::vector<int> bits, int scale_bits) {
        auto p = MakeParams(n, std::move(bits), scale_bits);
        p.Validate();
        p.ToSeal();  // also checks that primes of these sizes exist for N
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"),
      "Raises ValueError naming the broken rule.");

  m.def(
      "coeff_modulus_primes",
      [](std::size_t n, std::vector<int> bits, int scale_bits) {
        const seal::EncryptionParameters parms = MakeParams(n, std::move(bits), scale_bits).ToSeal();
        std::vector<std::uint64_t> primes;
        for (const auto& q : parms.coeff_modulus()) primes.push_back(q.value());
        return primes;
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"),
      "The coefficient modulus primes; a rescale at level l drops primes[l].");

  m.def(
      "check_scale",
      [](std::size_t n, std::vector<int> bits, int scale_bits, int level, double scale) {
        const seal::SEALContext context = he_tf::MakeSealContext(MakeParams(n, std::move(bits), scale_bits));
        auto data = context.first_context_data();
        while (data && static_cast<int>(data->chain_index()) > level) data = data->next_context_data();
        if (!data || static_cast<int>(data->chain_index()) != level) {
          throw std::invalid_argument("level " + std::to_string(level) + " is not a level of these parameters");
        }
        he_tf::CheckScale(context, data->parms_id(), scale, "the scale");
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"), py::arg("level"),
      py::arg("scale"), "Raises ValueError unless a ciphertext at `level` can carry `scale` (the loaders' rule).");

  m.def(
      "max_encodable_magnitude",
      [](std::size_t n, std::vector<int> bits, int scale_bits) {
        return he_tf::MaxEncodableMagnitude(MakeParams(n, std::move(bits), scale_bits));
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"));

  m.def(
      "generate_keys",
      [](std::size_t n, std::vector<int> bits, int scale_bits, std::optional<std::vector<int>> rotations) {
        const auto p = MakeParams(n, std::move(bits), scale_bits);
        he_tf::KeySetBytes keys;
        {
          py::gil_scoped_release release;
          keys = he_tf::GenerateKeys(p, rotations);
        }
        return py::make_tuple(py::bytes(keys.public_context), py::bytes(keys.secret_key));
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"), py::arg("rotations"),
      "Returns (public_context_bytes, secret_key_bytes). rotations=None: all powers of two.");

  // Key sets of other SEAL 4 applications (he_tf.interop): hostile bytes, validated before SEAL sees them.
  m.def(
      "params_from_seal",
      [](const py::bytes& b, int scale_bits) {
        const std::string_view bytes = View(b);
        he_tf::CkksParams p;
        {
          py::gil_scoped_release release;
          p = he_tf::ParamsFromSealBytes(bytes, scale_bits);
        }
        return py::make_tuple(p.poly_modulus_degree, p.coeff_mod_bit_sizes, p.scale_bits);
      },
      py::arg("encryption_parameters"), py::arg("scale_bits"),
      "(poly_modulus_degree, coeff_mod_bit_sizes, scale_bits) of SEAL-serialized CKKS parameters; ValueError if "
      "he-tf cannot use them.");
  m.def(
      "adopted_key_id",
      [](std::size_t n, std::vector<int> bits, int scale_bits, const py::bytes& public_key) {
        const auto p = MakeParams(n, std::move(bits), scale_bits);
        const std::string_view pk = View(public_key);
        py::gil_scoped_release release;
        return he_tf::AdoptedKeyId(p, pk);
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"), py::arg("public_key"),
      "The key-set id adopt_keys gives the key set of this SEAL-serialized public key.");
  m.def(
      "adopt_keys",
      [](std::size_t n, std::vector<int> bits, int scale_bits, const py::bytes& public_key,
         const py::bytes& relin_keys, const py::bytes& galois_keys, const py::bytes& secret_key, bool make_relin,
         bool make_galois) {
        const auto p = MakeParams(n, std::move(bits), scale_bits);
        const he_tf::ForeignKeys keys{View(public_key), View(relin_keys), View(galois_keys), View(secret_key),
                                      make_relin, make_galois};
        he_tf::KeySetBytes out;
        {
          py::gil_scoped_release release;
          out = he_tf::AdoptKeys(p, keys);
        }
        return py::make_tuple(py::bytes(out.public_context),
                              out.secret_key.empty() ? py::object(py::none()) : py::object(py::bytes(out.secret_key)));
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"), py::arg("public_key"),
      py::arg("relin_keys"), py::arg("galois_keys"), py::arg("secret_key"), py::arg("make_relin") = false,
      py::arg("make_galois") = false,
      "(public_context_bytes, secret_key_bytes or None) from SEAL-serialized keys of one key set (b'' for none); "
      "with a secret key, missing relinearization / Galois keys are made from it where make_relin / make_galois.");

  // The loaders every adapter uses, callable without TensorFlow (fuzzing, tools).
  // Each raises ValueError for bytes it refuses.
  py::class_<LoadedContext>(m, "LoadedContext");
  m.def(
      "load_public_context",
      [](const py::bytes& b) {
        const std::string_view bytes = View(b);
        py::gil_scoped_release release;
        return LoadedContext{he_tf::PublicContext::Deserialize(bytes)};
      },
      py::arg("serialized"), "A public context from its bytes, fully validated.");
  m.def(
      "load_secret_key",
      [](const py::bytes& b) {
        const std::string_view bytes = View(b);
        py::gil_scoped_release release;
        return he_tf::SecretKey::Deserialize(bytes)->key_id();
      },
      py::arg("serialized"), "Validates secret-key bytes (checked against their public key); returns the key-set id.");
  m.def(
      "load_ciphertext",
      [](const LoadedContext& c, const py::bytes& b) {
        const std::string_view bytes = View(b);
        seal::Ciphertext ct;
        {
          py::gil_scoped_release release;
          he_tf::LoadValidated(c.context->seal_context(), bytes, ct);
        }
        return py::make_tuple(c.context->Level(ct), ct.scale(), ct.size());
      },
      py::arg("context"), py::arg("seal_bytes"), "SEAL ciphertext bytes validated: (level, scale, size).");
  m.def(
      "ciphertext_for_seal_version",
      [](std::size_t n, std::vector<int> bits, int scale_bits, const py::bytes& b, int minor) {
        const auto p = MakeParams(n, std::move(bits), scale_bits);
        const std::string_view bytes = View(b);
        std::string out;
        {
          py::gil_scoped_release release;
          out = he_tf::CiphertextForSealVersion(he_tf::MakeSealContext(p), bytes, minor);
        }
        return py::bytes(out);
      },
      py::arg("poly_modulus_degree"), py::arg("coeff_mod_bit_sizes"), py::arg("scale_bits"), py::arg("seal_bytes"),
      py::arg("minor"),
      "SEAL ciphertext bytes validated, uncompressed, their headers saying SEAL 4.<minor>.");
  m.def(
      "load_plaintext",
      [](const LoadedContext& c, const py::bytes& b) {
        const std::string_view bytes = View(b);
        seal::Plaintext plain;
        {
          py::gil_scoped_release release;
          he_tf::LoadValidated(c.context->seal_context(), bytes, plain);
        }
        return plain.scale();
      },
      py::arg("context"), py::arg("seal_bytes"), "SEAL plaintext bytes validated: their scale.");

  m.def(
      "read_public_header",
      [](std::string_view bytes) {
        he_tf::ByteReader r(bytes, he_tf::kPublicContextMagic, "a public context");
        return HeaderTuple(he_tf::ReadKeyHeader(r));
      },
      py::arg("serialized"), "(key_id, poly_modulus_degree, coeff_mod_bit_sizes, scale_bits)");

  m.def(
      "read_secret_header",
      [](std::string_view bytes) {
        he_tf::ByteReader r(bytes, he_tf::kSecretKeyMagic, "a secret key");
        return HeaderTuple(he_tf::ReadKeyHeader(r));
      },
      py::arg("serialized"), "(key_id, poly_modulus_degree, coeff_mod_bit_sizes, scale_bits)");
}
