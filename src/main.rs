fn main() -> std::process::ExitCode {
    hpo::cli::main(None)
}
