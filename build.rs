//! Builds the node probe's eBPF object when the `probe` feature is on.
//!
//! In order: an object named by `NETPOL_PROBE_OBJECT` is used as it is; otherwise, when
//! `bpf-linker` is on PATH, the kernel crate is built with the nightly toolchain (aya-build);
//! otherwise an empty stub is embedded and `probe_stub` is set, so the terminal UI still
//! builds and the probe reports at run time that it was built without its programs.
//! `scripts/install-ebpf.sh` installs what the real build needs.

use std::env;
use std::path::PathBuf;

const OBJECT_ENV: &str = "NETPOL_PROBE_OBJECT";

fn main() {
    println!("cargo:rustc-check-cfg=cfg(probe_stub)");
    println!("cargo:rerun-if-env-changed={OBJECT_ENV}");
    println!("cargo:rerun-if-env-changed=PATH");
    let linux = env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux");
    if env::var_os("CARGO_FEATURE_PROBE").is_none() || !linux {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out.join("netpol-probe");
    if let Some(given) = env::var_os(OBJECT_ENV) {
        println!("cargo:rerun-if-changed={}", PathBuf::from(&given).display());
        if let Err(e) = std::fs::copy(&given, &object) {
            panic!("{OBJECT_ENV}={}: {e}", PathBuf::from(&given).display());
        }
        return;
    }
    if linker_present() {
        build_object();
        return;
    }
    println!(
        "cargo:warning=bpf-linker not found: the probe is built without its eBPF programs \
         (run scripts/install-ebpf.sh for the real object)"
    );
    println!("cargo:rustc-cfg=probe_stub");
    std::fs::write(&object, b"").expect("write the stub object");
}

fn linker_present() -> bool {
    let Some(path) = env::var_os("PATH") else {
        return false;
    };
    env::split_paths(&path).any(|dir| dir.join("bpf-linker").is_file())
}

#[cfg(feature = "probe")]
fn build_object() {
    let package = aya_build::Package {
        name: "netpol-probe-ebpf",
        root_dir: "bpf-probes/ebpf",
        ..Default::default()
    };
    println!("cargo:rerun-if-changed=bpf-probes/common");
    if let Err(e) = aya_build::build_ebpf([package], aya_build::Toolchain::Nightly) {
        panic!("building the eBPF programs failed: {e:#}");
    }
}

#[cfg(not(feature = "probe"))]
fn build_object() {}
