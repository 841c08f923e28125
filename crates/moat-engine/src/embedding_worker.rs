//! The thread of one embedding context: it takes every job waiting, sorts
//! their inputs by length, packs them into decodes of at most
//! `batch_tokens` tokens (one sequence per input), reads each sequence's
//! pooled vector, L2-normalises it (a reranker's scores are left as they
//! are) and answers each job in input order. Jobs whose caller went away
//! are skipped.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use crate::error::EngineError;

/// Inputs taken from the queue in one round at most; more waits for the
/// next round.
const MAX_ROUND_INPUTS: usize = 8192;

/// One request's inputs, tokenized and checked.
pub(crate) struct EmbedJob {
    pub inputs: Vec<Vec<LlamaToken>>,
    pub reply: oneshot::Sender<Result<Vec<Vec<f32>>, EngineError>>,
    pub cancelled: Arc<AtomicBool>,
    /// Held until the job is answered: the bound on queued requests.
    pub _permit: OwnedSemaphorePermit,
}

impl EmbedJob {
    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed) || self.reply.is_closed()
    }
}

pub(crate) struct WorkerSettings {
    /// Tokens packed into one decode.
    pub batch_tokens: u32,
    /// Sequences in one decode.
    pub max_seqs: usize,
    /// Bidirectional attention: run the encoder; otherwise decode and
    /// clear the KV cache after each pack.
    pub encoder: bool,
    /// L2-normalise each output (embeddings); a reranker's scores are
    /// returned raw.
    pub normalize: bool,
}

/// Serve jobs until every sender is gone.
pub(crate) fn run(
    mut ctx: LlamaContext<'_>,
    settings: &WorkerSettings,
    jobs: &mpsc::Receiver<EmbedJob>,
) {
    let n_batch = ctx.n_batch() as usize;
    let mut batch = LlamaBatch::new(n_batch, 1);
    while let Ok(first) = jobs.recv() {
        let mut round = vec![first];
        let mut inputs = round[0].inputs.len();
        while inputs < MAX_ROUND_INPUTS {
            match jobs.try_recv() {
                Ok(job) => {
                    inputs += job.inputs.len();
                    round.push(job);
                }
                Err(_) => break,
            }
        }
        serve_round(&mut ctx, &mut batch, settings, round);
    }
}

/// Embed every input of `round` and answer each job.
fn serve_round(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    settings: &WorkerSettings,
    round: Vec<EmbedJob>,
) {
    let mut results: Vec<Vec<Option<Vec<f32>>>> = round
        .iter()
        .map(|job| vec![None; job.inputs.len()])
        .collect();
    let mut failed: Vec<Option<EngineError>> = round.iter().map(|_| None).collect();
    // (job, input) by token count, so a pack holds inputs of like length.
    let mut order: Vec<(usize, usize)> = round
        .iter()
        .enumerate()
        .filter(|(_, job)| !job.is_cancelled())
        .flat_map(|(j, job)| (0..job.inputs.len()).map(move |i| (j, i)))
        .collect();
    order.sort_by_key(|&(j, i)| round[j].inputs[i].len());

    for pack in packs(&order, |(j, i)| round[*j].inputs[*i].len(), settings) {
        let pack: Vec<(usize, usize)> = pack
            .iter()
            .copied()
            .filter(|&(j, _)| failed[j].is_none() && !round[j].is_cancelled())
            .collect();
        if pack.is_empty() {
            continue;
        }
        match embed_pack(ctx, batch, settings, &round, &pack) {
            Ok(vectors) => {
                for (&(j, i), v) in pack.iter().zip(vectors) {
                    results[j][i] = Some(v);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "embedding decode failed");
                for &(j, _) in &pack {
                    failed[j] = Some(EngineError::Internal(e.to_string()));
                }
            }
        }
    }

    for ((job, vectors), failure) in round.into_iter().zip(results).zip(failed) {
        let answer = match failure {
            Some(e) => Err(e),
            None => vectors
                .into_iter()
                .collect::<Option<Vec<_>>>()
                .ok_or(EngineError::Cancelled),
        };
        let _ = job.reply.send(answer);
    }
}

/// Split `order` into runs of at most `batch_tokens` tokens and
/// `max_seqs` sequences; an item longer than `batch_tokens` is a run of
/// its own.
fn packs<'a, T>(
    order: &'a [T],
    len: impl Fn(&T) -> usize,
    settings: &WorkerSettings,
) -> Vec<&'a [T]> {
    let budget = settings.batch_tokens as usize;
    let mut out = Vec::new();
    let mut start = 0;
    let mut tokens = 0;
    for (k, item) in order.iter().enumerate() {
        let n = len(item);
        let full = k > start && (tokens + n > budget || k - start >= settings.max_seqs);
        if full {
            out.push(&order[start..k]);
            start = k;
            tokens = 0;
        }
        tokens += n;
    }
    if start < order.len() {
        out.push(&order[start..]);
    }
    out
}

/// One decode of the inputs `pack` (one sequence each): their vectors (L2
/// normalised where the settings say so), in pack order.
fn embed_pack(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    settings: &WorkerSettings,
    round: &[EmbedJob],
    pack: &[(usize, usize)],
) -> Result<Vec<Vec<f32>>, EngineError> {
    let internal = |e: &dyn std::fmt::Display| EngineError::Internal(e.to_string());
    batch.clear();
    for (seq, &(j, i)) in pack.iter().enumerate() {
        let seq = i32::try_from(seq).map_err(|e| internal(&e))?;
        for (pos, &token) in round[j].inputs[i].iter().enumerate() {
            let pos = i32::try_from(pos).map_err(|e| internal(&e))?;
            batch
                .add(token, pos, &[seq], true)
                .map_err(|e| internal(&e))?;
        }
    }
    if settings.encoder {
        ctx.encode(batch).map_err(|e| internal(&e))?;
    } else {
        ctx.decode(batch).map_err(|e| internal(&e))?;
    }
    let mut vectors = Vec::with_capacity(pack.len());
    for seq in 0..pack.len() {
        let seq = i32::try_from(seq).map_err(|e| internal(&e))?;
        let v = ctx.embeddings_seq_ith(seq).map_err(|e| internal(&e))?;
        vectors.push(if settings.normalize {
            normalized(v)
        } else {
            v.to_vec()
        });
    }
    if !settings.encoder {
        ctx.clear_kv_cache();
    }
    Ok(vectors)
}

/// `v / |v|` (a zero vector stays zero).
fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return v.to_vec();
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(batch_tokens: u32, max_seqs: usize) -> WorkerSettings {
        WorkerSettings {
            batch_tokens,
            max_seqs,
            encoder: true,
            normalize: true,
        }
    }

    #[test]
    fn packs_respect_tokens_and_sequences() {
        let lens = [3usize, 3, 4, 10, 20];
        let sizes = |s: &WorkerSettings| -> Vec<Vec<usize>> {
            packs(&lens, |n| *n, s).iter().map(|p| p.to_vec()).collect()
        };
        assert_eq!(
            sizes(&settings(10, 8)),
            vec![vec![3, 3, 4], vec![10], vec![20]]
        );
        assert_eq!(
            sizes(&settings(100, 2)),
            vec![vec![3, 3], vec![4, 10], vec![20]]
        );
        assert_eq!(
            sizes(&settings(8, 8)),
            vec![vec![3, 3], vec![4], vec![10], vec![20]]
        );
        assert!(packs(&[] as &[usize], |n| *n, &settings(8, 8)).is_empty());
    }

    #[test]
    fn vectors_get_unit_length() {
        let v = normalized(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
