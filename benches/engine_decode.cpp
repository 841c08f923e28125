// Greedy decode speed of the llama.cpp library this file is linked against,
// with no server around it: a short prompt per sequence, then N_GEN steps that
// each decode one token for every sequence in one batch (like a continuous-
// batching server with all slots busy). benches/engine_compare.sh builds it
// against the llama.cpp inside moat and the one inside llama-server, to tell
// engine-version differences apart from serving differences.
//
// Usage: engine_decode MODEL THREADS N_SEQ N_GEN REPEATS
// Prints one line per repeat: "n_seq=.. tokens=.. seconds=.. tokens_per_s=.."
#include "llama.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static void quiet_log(ggml_log_level, const char *, void *) {}

static llama_token argmax(const float * logits, int n_vocab) {
    int best = 0;
    for (int i = 1; i < n_vocab; i++) {
        if (logits[i] > logits[best]) {
            best = i;
        }
    }
    return best;
}

int main(int argc, char ** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s MODEL THREADS N_SEQ N_GEN REPEATS\n", argv[0]);
        return 2;
    }
    const char * path    = argv[1];
    const int    threads = atoi(argv[2]);
    const int    n_seq   = atoi(argv[3]);
    const int    n_gen   = atoi(argv[4]);
    const int    repeats = atoi(argv[5]);

    llama_log_set(quiet_log, nullptr);
    llama_backend_init();
    llama_model * model = llama_model_load_from_file(path, llama_model_default_params());
    if (!model) {
        fprintf(stderr, "cannot load %s\n", path);
        return 1;
    }
    const llama_vocab * vocab   = llama_model_get_vocab(model);
    const int           n_vocab = llama_vocab_n_tokens(vocab);

    llama_context_params cp = llama_context_default_params();
    cp.n_ctx           = 4096;
    cp.n_batch         = 512;
    cp.n_ubatch        = 512;
    cp.n_seq_max       = n_seq;
    cp.n_threads       = threads;
    cp.n_threads_batch = threads;
    cp.kv_unified      = true;
    llama_context * ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return 1;
    }

    const std::string  text = "<|im_start|>user\nWrite a long story about a lighthouse keeper.<|im_end|>\n<|im_start|>assistant\n";
    std::vector<llama_token> prompt(256);
    const int n_prompt = llama_tokenize(vocab, text.c_str(), (int) text.size(), prompt.data(), (int) prompt.size(), true, true);
    if (n_prompt <= 0) {
        fprintf(stderr, "cannot tokenize the prompt\n");
        return 1;
    }
    prompt.resize(n_prompt);

    llama_batch batch = llama_batch_init(512, 0, 1);
    for (int rep = 0; rep < repeats; rep++) {
        llama_memory_clear(llama_get_memory(ctx), true);
        std::vector<llama_token> last(n_seq);
        for (int s = 0; s < n_seq; s++) {
            batch.n_tokens = 0;
            for (int i = 0; i < n_prompt; i++) {
                batch.token[i]     = prompt[i];
                batch.pos[i]       = i;
                batch.n_seq_id[i]  = 1;
                batch.seq_id[i][0] = s;
                batch.logits[i]    = i == n_prompt - 1;
                batch.n_tokens++;
            }
            if (llama_decode(ctx, batch) != 0) {
                fprintf(stderr, "prompt decode failed\n");
                return 1;
            }
            last[s] = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
        }
        const auto start = std::chrono::steady_clock::now();
        for (int step = 0; step < n_gen; step++) {
            batch.n_tokens = 0;
            for (int s = 0; s < n_seq; s++) {
                batch.token[s]     = last[s];
                batch.pos[s]       = n_prompt + step;
                batch.n_seq_id[s]  = 1;
                batch.seq_id[s][0] = s;
                batch.logits[s]    = true;
                batch.n_tokens++;
            }
            if (llama_decode(ctx, batch) != 0) {
                fprintf(stderr, "decode failed\n");
                return 1;
            }
            for (int s = 0; s < n_seq; s++) {
                last[s] = argmax(llama_get_logits_ith(ctx, s), n_vocab);
            }
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        printf("n_seq=%d tokens=%d seconds=%.4f tokens_per_s=%.2f\n", n_seq, n_seq * n_gen, secs,
               n_seq * n_gen / secs);
        fflush(stdout);
    }
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
