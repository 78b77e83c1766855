//! MPI smoke test (harness = false): this test binary re-runs itself under
//! `mpirun -np 2`; each rank sends a vector of a different length and rank 0
//! checks what `workers::distributed::gather_varcount_to_root` gathered.

mod common;

use std::process::Command;
use std::time::Duration;

const CHILD: &str = "GENOPROT_MPI_SMOKE_CHILD";

fn rank_payload(rank: i32) -> Vec<f32> {
    (0..(3 * rank + 2))
        .map(|k| rank as f32 * 100.0 + k as f32)
        .collect()
}

fn child() {
    use mpi::traits::*;
    let universe = mpi::initialize().expect("MPI init");
    let world = universe.world();
    let rank = world.rank();
    let got = workers::distributed::gather_varcount_to_root(&world, &rank_payload(rank));
    if let Some(all) = got {
        assert_eq!(all.len(), world.size() as usize);
        for (r, v) in all.iter().enumerate() {
            assert_eq!(v, &rank_payload(r as i32), "rank {r}'s vector");
        }
        let lens: Vec<usize> = all.iter().map(Vec::len).collect();
        println!("GATHERED size={} lens={lens:?}", world.size());
    } else {
        assert_ne!(rank, 0);
    }
}

fn main() {
    if std::env::var_os(CHILD).is_some() {
        child();
        return;
    }
    let me = std::env::current_exe().unwrap();
    let mut cmd = Command::new("mpirun");
    cmd.args(["--oversubscribe", "-np", "2"])
        .arg(&me)
        .env(CHILD, "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_plm_rsh_agent", ""); // single node: no ssh
    let out = common::run_with_timeout(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mpirun failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("GATHERED size=2 lens=[2, 5]"),
        "unexpected output:\n{stdout}"
    );
    println!("test mpi_gather_varcount_two_ranks ... ok");
}
