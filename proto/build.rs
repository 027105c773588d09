//! Compiles `proto/**/*.proto` with protox (pure Rust, no system `protoc`),
//! writes the file descriptor set for server reflection, and generates prost
//! messages plus, with the `grpc` feature, tonic client and server stubs.

use std::path::{Path, PathBuf};

use prost::Message;

const PROTO_ROOT: &str = "proto";
/// The package of the public API (the cluster's own is `pledgeledger.cluster.v1`).
const PUBLIC_PACKAGE: &str = "pledgeledger.v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = proto_files(Path::new(PROTO_ROOT))?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!("cargo:rerun-if-changed={PROTO_ROOT}");

    let descriptors = protox::compile(&files, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // Reflection on the client port describes the public API only, not the
    // member-to-member service, which listens elsewhere.
    let mut public = descriptors.clone();
    public.file.retain(|file| file.package() == PUBLIC_PACKAGE);
    std::fs::write(
        out_dir.join("pledgeledger_descriptor.bin"),
        public.encode_to_vec(),
    )?;

    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_client(grpc)
        .build_server(grpc)
        .codec_path("crate::codec::LedgerCodec")
        .compile_fds(descriptors)?;
    Ok(())
}

/// Every `.proto` file under `dir`, sorted so the build is reproducible.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(proto_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
