# ctest entries test_cli_sdt (PART=tiny) and test_cli_sdt_sst2 (PART=sst2): see CMakeLists.txt.
# Inputs (-D): QSLM (the tool), SOURCE_DIR, WORK_DIR, PART, DATA_DIR (sst2 only).

cmake_minimum_required(VERSION 3.20)  # IN_LIST, string(JSON)

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# run(<out-var> <expected rc list> args...): runs the tool from the source tree; fails unless
# the exit status is one of the expected ones. Sets <out-var> (stdout) and <out-var>_ERR.
function(run out expected_rcs)
  execute_process(COMMAND "${QSLM}" ${ARGN} WORKING_DIRECTORY "${SOURCE_DIR}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stderr)
  string(REPLACE "," ";" expected "${expected_rcs}")
  if(NOT rc IN_LIST expected)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "qslm ${cmd}: exit status ${rc}, expected ${expected_rcs}\nstdout: ${stdout}\nstderr: ${stderr}")
  endif()
  set(${out} "${stdout}" PARENT_SCOPE)
  set(${out}_ERR "${stderr}" PARENT_SCOPE)
  set(${out}_RC "${rc}" PARENT_SCOPE)
endfunction()

function(expect condition_text)
  if(NOT (${ARGN}))
    message(FATAL_ERROR "failed: ${condition_text}")
  endif()
endfunction()

function(expect_error what pattern)
  run(out 1 ${ARGN})
  string(FIND "${out_ERR}" "${pattern}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${what}: stderr lacks '${pattern}': ${out_ERR}")
  endif()
endfunction()

if(PART STREQUAL "tiny")
  set(model models/tiny/sdt-tiny-s1.safetensors)
  set(data tests/cli/data/tiny-sst2.tsv)

  # Float, then 4 bits: accuracy is a fraction, the byte counts are consistent.
  run(float 0 eval ${model} --data ${data} --json)
  string(JSON type GET "${float}" type)
  string(JSON examples GET "${float}" examples)
  string(JSON acc GET "${float}" accuracy)
  string(JSON bytes GET "${float}" bytes)
  string(JSON fp32 GET "${float}" fp32_bytes)
  expect("type sdt" type STREQUAL "sdt")
  expect("24 examples" examples EQUAL 24)
  expect("accuracy in [0, 1]" NOT acc LESS 0 AND NOT acc GREATER 1)
  expect("float bytes = fp32 bytes" bytes EQUAL fp32)
  run(q4 0 eval ${model} --data ${data} --uniform-bits 4 --granularity group:8 --json)
  string(JSON q4_bytes GET "${q4}" bytes)
  string(JSON q4_bits GET "${q4}" uniform_bits)
  expect("4 bits is smaller" q4_bytes LESS fp32)
  expect("uniform_bits reported" q4_bits EQUAL 4)

  # Classifier-specific errors are sentences, not crashes.
  expect_error("data-free" "--data-free is for language models" eval ${model} --data-free)
  expect_error("no data" "labelled sentences" eval ${model})
  expect_error("percent drop" "accuracy points" search ${model} --data ${data} --max-drop 0.5% --out "${WORK_DIR}/x")
  expect_error("gptq" "rounded to nearest" search ${model} --data ${data} --rounding gptq --out "${WORK_DIR}/x")
  expect_error("max-ppl" "--max-ppl bounds a language model" search ${model} --data ${data} --max-ppl 3 --out "${WORK_DIR}/x")

  # A search (deterministic; these bounds are met on this model, so exit 0), the three files,
  # and a model.qslm that scores what the report says when evaluated on its own.
  set(out "${WORK_DIR}/search")
  run(search 0 search ${model} --data ${data} --max-bits-per-weight 4 --max-drop 20 --widths 8,4,2
      --threads 2 --quiet --json --out "${out}")
  expect("report.json written" EXISTS "${out}/report.json")
  expect("pareto.svg written" EXISTS "${out}/pareto.svg")
  file(READ "${out}/report.json" report)
  string(JSON metric GET "${report}" metric)
  string(JSON points GET "${report}" max_drop_points)
  string(JSON satisfied GET "${report}" satisfied)
  expect("metric accuracy" metric STREQUAL "accuracy")
  expect("max_drop_points 20" points EQUAL 20)
  expect("constraints met" satisfied)
  expect("model.qslm written" EXISTS "${out}/model.qslm")
  string(JSON chosen_score GET "${report}" chosen score)
  string(JSON chosen_bytes GET "${report}" chosen bytes)
  string(JSON limit GET "${report}" constraints memory_limit_bytes)
  string(JSON float_full GET "${report}" float_accuracy_full)
  expect("within the memory limit" NOT chosen_bytes GREATER limit)
  run(again 0 eval "${out}/model.qslm" --data ${data} --json)
  string(JSON again_acc GET "${again}" accuracy)
  expect("model.qslm scores what the report says (${again_acc} vs ${chosen_score})" again_acc EQUAL chosen_score)
  expect("the float accuracy is the eval's" float_full EQUAL acc)
  # An unreachable bound (0.5 bits per weight, no accuracy loss) is the other outcome: exit 3,
  # a report that says so, and no model.qslm.
  run(unmet 3 search ${model} --data ${data} --max-bits-per-weight 0.5 --max-drop 0 --widths 8,4,2
      --threads 2 --quiet --json --out "${WORK_DIR}/unmet")
  file(READ "${WORK_DIR}/unmet/report.json" unmet_report)
  string(JSON unmet_satisfied GET "${unmet_report}" satisfied)
  expect("unreachable bound not satisfied" NOT unmet_satisfied)
  expect("no model.qslm when nothing was chosen" NOT EXISTS "${WORK_DIR}/unmet/model.qslm")
elseif(PART STREQUAL "lm")
  # The tiny SpikeGPT on a text of this repository: the search reports energy next to memory,
  # its model.qslm is counted at its stored size by eval, and the energy objective runs.
  set(model models/tiny/spikegpt-tiny-s1.safetensors)
  set(text docs/architecture.md)
  set(out "${WORK_DIR}/search")
  # 8/6-bit widths within 5 %: met on this model (deterministic), so the checks below always run.
  run(search 0 search ${model} --data ${text} --eval-tokens 2048 --max-bits-per-weight 8.5 --max-drop 5%
      --widths 8,6 --threads 2 --quiet --json --out "${out}")
  file(READ "${out}/report.json" report)
  string(JSON satisfied GET "${report}" satisfied)
  string(JSON objective GET "${report}" objective name)
  expect("two-objective by default" objective STREQUAL "performance_memory_tradeoff")
  string(JSON e_float GET "${report}" baseline energy_per_token_pj)
  expect("float energy per token > 0" e_float GREATER 0)
  expect("constraints met" satisfied)
  string(JSON chosen_bytes GET "${report}" chosen bytes)
  string(JSON e_chosen GET "${report}" chosen energy_per_token_pj)
  string(JSON ratio GET "${report}" energy energy_ratio)
  string(JSON ref_pj GET "${report}" energy reference per_token_pj)
  string(JSON power GET "${report}" energy candidate average_power_w)
  expect("chosen uses less energy than float" e_chosen LESS e_float)
  expect("energy ratio in (0, 1)" ratio GREATER 0 AND ratio LESS 1)
  expect("side by side: the reference is the float model" ref_pj EQUAL e_float)
  expect("average power at 10 tokens/s" power GREATER 0)
  run(again 0 eval "${out}/model.qslm" --data ${text} --eval-tokens 2048 --json)
  string(JSON again_bytes GET "${again}" bytes)
  expect("eval counts model.qslm at its stored size (${again_bytes} vs ${chosen_bytes})" again_bytes EQUAL chosen_bytes)
  run(energy 0 search ${model} --data ${text} --eval-tokens 2048 --max-bits-per-weight 8.5 --max-drop 5%
      --widths 8,6 --threads 2 --quiet --json --objective performance-memory-energy --out "${WORK_DIR}/energy")
  file(READ "${WORK_DIR}/energy/report.json" report)
  string(JSON objective GET "${report}" objective name)
  expect("energy objective named" objective STREQUAL "performance_memory_energy")
  expect_error("energy objective on a classifier" "SpikeGPT only" search models/tiny/sdt-tiny-s1.safetensors
               --data tests/cli/data/tiny-sst2.tsv --objective performance-memory-energy --out "${WORK_DIR}/x")

  # What a user does with a quantized model: quantize, eval the .qslm (it runs packed, on the
  # low-bit GEMV with int8 activations) and bench it. `eval --uniform-bits 4` on the float model
  # scores with the same arithmetic, so the two must print the same number, digit for digit.
  run(quantized 0 quantize ${model} --bits 4 -o "${WORK_DIR}/q4.qslm" --json)
  run(q_eval 0 eval "${WORK_DIR}/q4.qslm" --data ${text} --eval-tokens 2048 --json)
  run(u_eval 0 eval ${model} --data ${text} --eval-tokens 2048 --uniform-bits 4 --json)
  string(JSON q_bpc GET "${q_eval}" bits_per_char)
  string(JSON u_bpc GET "${u_eval}" bits_per_char)
  expect("quantize + eval scores what eval --uniform-bits 4 scores (${q_bpc} vs ${u_bpc})" q_bpc STREQUAL u_bpc)
  run(f_eval 0 eval ${model} --data ${text} --eval-tokens 2048 --json)
  string(JSON f_bpc GET "${f_eval}" bits_per_char)
  expect("4-bit is not the float score (${q_bpc} vs ${f_bpc})" NOT q_bpc STREQUAL f_bpc)
  run(bench 0 bench "${WORK_DIR}/q4.qslm" --tokens 32 --threads 1 --json)
  string(JSON weights GET "${bench}" weights)
  string(JSON resident GET "${bench}" resident_weight_bytes)
  string(JSON file_bytes GET "${bench}" file_bytes)
  string(JSON tps GET "${bench}" tokens_per_second)
  expect("bench runs the .qslm packed (${weights})" weights STREQUAL "packed")
  string(JSON params GET "${bench}" parameters)
  # Dequantized at load, the weights would take 4 bytes per parameter. Packed 4-bit matrices
  # (with the kernel's padded layout and the float32 vectors beside them) must come well under:
  # half is a bound even this tiny model, whose vectors are a large share, clears.
  math(EXPR float_half "${params} * 2")
  expect("packed weights in memory (${resident} B) are under half of float32 (${params} parameters)" resident LESS float_half)
  expect("bench reports the file size (${file_bytes})" file_bytes GREATER 0)
  expect("bench measured a speed (${tps})" tps GREATER 0)
  # Data-free eval of a .qslm: the text is sampled from the float model it came from (as the
  # search verified it), never from itself; without --sample-from that is an error.
  expect_error("data-free eval of a .qslm needs its float model" "--sample-from" eval "${WORK_DIR}/q4.qslm")
  run(df_q 0 eval "${WORK_DIR}/q4.qslm" --sample-from ${model} --eval-tokens 1024 --json)
  run(df_u 0 eval ${model} --uniform-bits 4 --eval-tokens 1024 --json)
  string(JSON df_q_bpc GET "${df_q}" bits_per_char)
  string(JSON df_u_bpc GET "${df_u}" bits_per_char)
  expect("data-free: .qslm with --sample-from scores what --uniform-bits scores (${df_q_bpc} vs ${df_u_bpc})" df_q_bpc STREQUAL df_u_bpc)
  expect_error("--sample-from with --data" "--sample-from is for data-free" eval "${WORK_DIR}/q4.qslm" --data ${text}
               --sample-from ${model})
elseif(PART STREQUAL "tools")
  set(model models/tiny/spikegpt-tiny-s1.safetensors)
  # info: text and JSON agree with the model; the search's left-out matrix is named.
  run(info 0 info ${model})
  string(FIND "${info}" "2 layers x 16 wide" at)
  expect("info names the shape: ${info}" NOT at EQUAL -1)
  string(FIND "${info}" "emb.weight is left out" at)
  expect("info says which matrix the search leaves out" NOT at EQUAL -1)
  run(info_json 0 info ${model} --json)
  string(JSON n_layer GET "${info_json}" config n_layer)
  string(JSON binary GET "${info_json}" embedding binary)
  string(JSON reason GET "${info_json}" embedding reason)
  string(JSON n_matrices LENGTH "${info_json}" matrices)
  string(JSON searched GET "${info_json}" search matrices)
  string(JSON left_out GET "${info_json}" search left_out 0 name)
  expect("n_layer 2" n_layer EQUAL 2)
  expect("binary embedding from the metadata" binary AND reason MATCHES "binary_embedding metadata")
  math(EXPR one_less "${n_matrices} - 1")
  expect("the search searches all but the embedding" searched EQUAL one_less AND left_out STREQUAL "emb.weight")
  run(info_float 0 info ${model} --json --embedding float)
  string(JSON binary GET "${info_float}" embedding binary)
  string(JSON searched GET "${info_float}" search matrices)
  expect("--embedding float overrides" NOT binary AND searched EQUAL n_matrices)
  # A reference-named checkpoint without metadata: float embedding (vocabulary 256, not 77).
  execute_process(COMMAND python3 tests/hostile/craft.py --strip-metadata ${model} "${WORK_DIR}/bare.safetensors"
                  WORKING_DIRECTORY "${SOURCE_DIR}" RESULT_VARIABLE rc)
  expect("stripped copy written" rc EQUAL 0)
  run(bare 0 info "${WORK_DIR}/bare.safetensors" --json)
  string(JSON binary GET "${bare}" embedding binary)
  string(JSON reason GET "${bare}" embedding reason)
  expect("no metadata: float, by the reference rule (${reason})" NOT binary AND reason MATCHES "77-symbol")

  # run --tokens: JSON logits on stdout, the same numbers in --dump-logits, finite.
  run(logits 0 run ${model} --tokens 1,2,3)
  string(JSON steps LENGTH "${logits}")
  string(JSON vocab LENGTH "${logits}" 0)
  expect("3 steps of 256 logits" steps EQUAL 3 AND vocab EQUAL 256)
  run(dumped 0 run ${model} --tokens 1,2,3 --dump-logits "${WORK_DIR}/logits.json")
  file(READ "${WORK_DIR}/logits.json" dumped_json)
  expect("--dump-logits writes what stdout shows" dumped_json STREQUAL logits)
  # Greedy generation is deterministic and starts with the prompt.
  run(gen1 0 run ${model} --prompt "The " -n 12 --temperature 0)
  run(gen2 0 run ${model} --prompt "The " -n 12 --temperature 0)
  expect("greedy generation repeats" gen1 STREQUAL gen2)
  string(FIND "${gen1}" "The " at)
  expect("the prompt is echoed first" at EQUAL 0)
  # Non-finite logits (finite weights of 3e38 in the head) are an error, not output (F4).
  execute_process(COMMAND python3 tests/hostile/craft.py --overflow-model ${model} "${WORK_DIR}/overflow.safetensors"
                  WORKING_DIRECTORY "${SOURCE_DIR}")
  expect_error("overflowing logits" "non-finite logit" run "${WORK_DIR}/overflow.safetensors" --tokens 1,2)

  # export: a header from a searched model.qslm, refused onto a folder.
  run(search 0 search models/tiny/sdt-tiny-s1.safetensors --data tests/cli/data/tiny-sst2.tsv
      --max-bits-per-weight 4 --widths 8,4,2 --threads 2 --quiet --out "${WORK_DIR}/search")
  run(exported 0 export "${WORK_DIR}/search/model.qslm" --header "${WORK_DIR}/model.hpp" --namespace tiny_sdt)
  file(READ "${WORK_DIR}/model.hpp" header)
  string(FIND "${header}" "namespace tiny_sdt" at)
  expect("the header has the namespace" NOT at EQUAL -1)
  expect_error("header onto a folder" "is a folder" export "${WORK_DIR}/search/model.qslm" --header "${WORK_DIR}")
  # report.json being a folder: a clear error and a non-zero exit (F1).
  file(MAKE_DIRECTORY "${WORK_DIR}/blocked/report.json")
  expect_error("report.json is a folder" "report.json" search models/tiny/sdt-tiny-s1.safetensors
               --data tests/cli/data/tiny-sst2.tsv --max-bits-per-weight 4 --widths 8,4 --quiet --out "${WORK_DIR}/blocked")
elseif(PART STREQUAL "sst2")
  # The caller's QSLM_DATA_DIR wins over the configured folder (as in tests/data_dir.hpp).
  if(DEFINED ENV{QSLM_DATA_DIR} AND NOT "$ENV{QSLM_DATA_DIR}" STREQUAL "")
    set(DATA_DIR "$ENV{QSLM_DATA_DIR}")
  endif()
  set(dev "${DATA_DIR}/sst2/dev.tsv")
  if(NOT EXISTS "${dev}")
    message("QSLM_SKIPPED: ${dev} is absent (set QSLM_DATA_DIR to the folder holding sst2/)")
    return()
  endif()
  run(float 0 eval bundled-sdt --data "${dev}" --threads 2 --json)
  string(JSON examples GET "${float}" examples)
  string(JSON acc GET "${float}" accuracy)
  expect("872 dev sentences" examples EQUAL 872)
  # 681 of 872 = 0.78096 (the checkpoint's scores say 0.781); one sentence is 0.00115.
  expect("float dev accuracy 78.1 % (got ${acc})" acc GREATER 0.7798 AND acc LESS 0.7821)
else()
  message(FATAL_ERROR "PART must be tiny, lm, tools or sst2, not '${PART}'")
endif()
