fn main() -> std::process::ExitCode {
    hpo::main()
}
