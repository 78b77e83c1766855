//! With the `tch` feature: bake the folder of the libtorch the build linked
//! against into the binary's RPATH, so `genoprot` (and the sbatch scripts
//! that run it) start without `LD_LIBRARY_PATH`. torch-sys reports the folder
//! through its `links = "tch"` metadata as `DEP_TCH_LIBTORCH_LIB`.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
    }
}
