//! MPI helpers (feature `mpi`): ranks share work and results meet at rank 0.

use mpi::Count;
use mpi::datatype::PartitionMut;
use mpi::traits::*;

/// Gathers each rank's `local` vector (lengths may differ) to rank 0.
/// Rank 0 gets `Some(per-rank vectors)`, the others `None`.
pub fn gather_varcount_to_root<C: Communicator>(comm: &C, local: &[f32]) -> Option<Vec<Vec<f32>>> {
    let root = comm.process_at_rank(0);
    let n = local.len() as Count;
    if comm.rank() == 0 {
        let mut counts = vec![0 as Count; comm.size() as usize];
        root.gather_into_root(&n, &mut counts[..]);
        let displs: Vec<Count> = counts
            .iter()
            .scan(0, |acc, &c| {
                let d = *acc;
                *acc += c;
                Some(d)
            })
            .collect();
        let total: Count = counts.iter().sum();
        let mut buf = vec![0f32; total as usize];
        {
            let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            root.gather_varcount_into_root(local, &mut part);
        }
        Some(
            counts
                .iter()
                .zip(&displs)
                .map(|(&c, &d)| buf[d as usize..(d + c) as usize].to_vec())
                .collect(),
        )
    } else {
        root.gather_into(&n);
        root.gather_varcount_into(local);
        None
    }
}
