// cxrsynth: synthesis of COVID-19 chest X-rays by unpaired image-to-image translation.
// A thin entry point: parse, dispatch, map errors to exit codes (0 ok, 2 usage, 1 error).
#include <exception>
#include <iostream>

#include "cli/common.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{
      "cxrsynth: CycleGAN synthesis of COVID-19 chest X-rays and the paper's classifier "
      "experiments (Zunair & Hamza, 2020)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "cxrsynth 0.1.0");
  cxrsynth::cli::add_config_command(app);
  cxrsynth::cli::add_report_command(app);
  cxrsynth::cli::add_prepare_command(app);
  cxrsynth::cli::add_train_gan_command(app);
  cxrsynth::cli::add_synthesize_command(app);
  cxrsynth::cli::add_train_classifier_command(app);
  cxrsynth::cli::add_evaluate_command(app);
  cxrsynth::cli::add_predict_command(app);
  cxrsynth::cli::add_experiment_command(app);
  cxrsynth::cli::add_demo_command(app);
  cxrsynth::cli::add_audit_command(app);
  cxrsynth::cli::add_launch_command(app);

  try {
    app.parse(argc, argv);
    return 0;
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const cxrsynth::UsageError& e) {
    for (const auto& line : e.lines()) std::cerr << "error: " << line << '\n';
    return 2;
  } catch (const cxrsynth::Error& e) {
    for (const auto& line : e.lines()) std::cerr << "error: " << line << '\n';
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}
