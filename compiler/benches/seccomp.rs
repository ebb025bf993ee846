//! The seccomp code generator beside seccompiler 0.5's, measured on Linux (`seccomp/linux.rs`
//! says what and how): `cargo bench -p nonoc --bench seccomp`. seccompiler and the kernel's
//! seccomp exist on Linux only; elsewhere the bench says so and measures nothing.

#[cfg(target_os = "linux")]
#[path = "seccomp/linux.rs"]
mod linux;

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
    #[cfg(not(target_os = "linux"))]
    println!("the seccomp bench measures Linux's seccomp: nothing to measure on this system");
}
