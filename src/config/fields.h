// The field-visitor protocol that makes plain Options structs configurable without their
// modules knowing JSON.
//
// Each Options struct has, next to it, a free function
//
//   template <class V> void visit_fields(V& v, FooOptions& o) {
//     v.field("lambda_cycle", o.lambda_cycle,
//             Doc("Cycle-consistency weight lambda (eq. 3)", "paper sec. 3; authors' code")
//                 .range(0, 1000));
//     v.field("adv_loss", o.adv_loss,
//             Doc("Adversarial loss", "authors' code: MSE").one_of({"lsgan", "vanilla"}));
//     v.section("augment", o.augment);   // nested Options struct with its own visit_fields
//   }
//
// Supported field types: bool, int, std::int64_t, double, std::string,
// std::vector<std::string>, std::vector<double>, std::vector<std::int64_t>.
// The config module walks these functions to parse JSON strictly, print `config show`, write
// the resolved config and its diff against the defaults.
#pragma once

#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace cxrsynth::config {

struct Doc {
  Doc(const char* text, const char* source) : text(text), source(source) {}

  Doc& range(double lo_, double hi_) {
    lo = lo_;
    hi = hi_;
    return *this;
  }
  Doc& min(double lo_) {
    lo = lo_;
    return *this;
  }
  Doc& one_of(std::initializer_list<const char*> values) {
    choices.assign(values.begin(), values.end());
    return *this;
  }

  const char* text;
  const char* source;  // "paper sec. 3", "authors' code", "reference CycleGAN", "ours"
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // for string fields (and each element of string lists)
};

}  // namespace cxrsynth::config
