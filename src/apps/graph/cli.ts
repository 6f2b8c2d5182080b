/**
 * The `qkv graph` commands: node classification on the shipped graphs (Zachary's karate club,
 * Debian's package dependencies) with graph attention (GATConv), a graph transformer
 * (TransformerConv), or an MLP that sees the node features only. With `qkv --backend webgpu`,
 * `graph train` and `graph eval` (from the seed) train the model on the device and evaluate it
 * there, reading back only predicted classes; its parameters come back only for `--out` and
 * `--viz` (host copies). A model file (`--weights`) is loaded and evaluated on the host.
 *
 * ```sh
 * npx qkv graph train --data debian --model gat --seed 0 --out runs/debian-gat.safetensors
 * npx qkv graph eval --data debian --model gat                 # trains from the seed, then: accuracy: …%
 * npx qkv graph eval --data debian --weights runs/debian-gat.safetensors
 * npx qkv graph compare --data debian --seeds 5                # every model, mean ± standard deviation
 * npx qkv graph train --data karate --viz karate-gat.html      # the attention on the graph
 * ```
 */
import { Command } from "commander";
import { choiceArg, integerArg, positiveArg } from "../../cli/args.js";
import { anyOnDevice, withModelOnHost } from "../../backend/host-copies.js";
import { writeAtomic } from "../../io/files.js";
import type { GraphDataset } from "./data.js";
import { edgeHomophily } from "./data.js";
import { GRAPH_DATASETS, loadGraphDataset, loadGraphModel, saveGraphModel } from "./files.js";
import { GRAPH_MODEL_KINDS, type GraphModelKind, type NodeClassifier } from "./model.js";
import { evaluateNodeClassifier, evaluateNodeClassifierAsync, trainNodeClassifier, type EpochReport, type TrainGraphResult } from "./train.js";
import { graphAttentionPage } from "./viz.js";

const kindOf = choiceArg<GraphModelKind>("--model", GRAPH_MODEL_KINDS);
const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;
const DATA_HELP = `dataset: ${Object.keys(GRAPH_DATASETS).join(" or ")} (or a qkv-graph JSON file)`;

interface TrainCli { data: string; model: GraphModelKind; epochs: number; seed: number; lr: number; out?: string; viz?: string; vizNode?: string; quiet?: boolean }

function describe(ds: GraphDataset): string {
  const F = ds.features ? `${ds.features.vocabulary.length} bag-of-words features` : "one-hot node ids";
  return `${ds.name}: ${ds.nodes.length} nodes, ${ds.edges.src.length} edges (${pct(edgeHomophily(ds))} within one class), ${ds.classes.length} classes, ${F}; ` +
    `split ${ds.split.train.length} / ${ds.split.valid.length} / ${ds.split.test.length}`;
}

function train(ds: GraphDataset, o: TrainCli, log: boolean): Promise<TrainGraphResult> {
  const every = Math.max(1, Math.round(o.epochs / 10));
  const onEpoch = (r: EpochReport): void => {
    if (r.epoch % every !== 0 && r.epoch !== r.epochs) return;
    console.log(`epoch ${r.epoch}/${r.epochs}  loss ${r.loss.toFixed(4)}  train ${pct(r.train)}${r.valid === null ? "" : `  valid ${pct(r.valid)}`}`);
  };
  return trainNodeClassifier(ds, { kind: o.model, epochs: o.epochs, seed: o.seed, lr: o.lr, ...(log ? { onEpoch } : {}) });
}

async function writeViz(model: NodeClassifier, ds: GraphDataset, o: TrainCli): Promise<void> {
  if (!o.viz) return;
  await writeAtomic(o.viz, graphAttentionPage(model, ds, { op: "qkv graph", ...(o.vizNode !== undefined ? { node: o.vizNode } : {}) }));
  console.log(`attention of every layer and head: ${o.viz}`);
}

function trainingOptions(c: Command): Command {
  return c
    .requiredOption("--data <name>", DATA_HELP)
    .option("--model <kind>", `the model: ${GRAPH_MODEL_KINDS.join(", ")}`, kindOf, "gat" as GraphModelKind)
    .option("--epochs <n>", "full-batch epochs (the parameters of the best validation epoch are kept)", integerArg("--epochs", 1), 200)
    .option("--seed <n>", "seed of the initialization and the dropout masks", integerArg("--seed", 0), 0)
    .option("--lr <x>", "Adam's learning rate", positiveArg("--lr"), 0.005)
    .option("--viz <file.html>", "also write the graph view of the attention (gat, transformer)")
    .option("--viz-node <name>", "the node whose neighbourhood --viz draws on a large graph (default: the test node of highest degree)");
}

export function registerGraphCommands(program: Command): void {
  const graph = program.command("graph").description("node classification with graph attention on the shipped graphs (karate club, Debian packages)");

  trainingOptions(graph.command("train").description("train a node classifier; prints the accuracies, the test accuracy last"))
    .option("--out <file.safetensors>", "write the trained model (for graph eval --weights)")
    .action(async (o: TrainCli) => {
      const ds = await loadGraphDataset(o.data);
      console.log(describe(ds));
      const r = await train(ds, o, true);
      console.log(`kept epoch ${r.epoch}: train ${pct(r.train)}${r.valid === null ? "" : `, valid ${pct(r.valid)}`} (${r.seconds.toFixed(1)} s)`);
      // saving and the attention page on the host (copies of a model trained on a device); without
      // them nothing more is read (the test accuracy was evaluated where the model is)
      if (o.out || o.viz) {
        await withModelOnHost(r.model, async () => {
          if (o.out) {
            await saveGraphModel(o.out, r.model, ds);
            console.log(`model: ${o.out}`);
          }
          await writeViz(r.model, ds, o);
        });
      }
      console.log(`test accuracy: ${pct(r.test)}`);
    });

  trainingOptions(graph.command("eval").description("test accuracy of a model file (--weights), or of a model trained here from the seed; the last line is accuracy: <percent>%"))
    .option("--weights <file.safetensors>", "a model written by graph train --out (default: train one from --seed first)")
    .action(async (o: TrainCli & { weights?: string }) => {
      const ds = await loadGraphDataset(o.data);
      let model: NodeClassifier;
      if (o.weights) {
        model = await loadGraphModel(o.weights, ds);
        console.log(`${model.config.kind} model ${o.weights} on ${ds.name}`);
      } else {
        console.log(`training ${o.model} on ${ds.name} (seed ${o.seed}, ${o.epochs} epochs)`);
        const r = await train(ds, o, false);
        model = r.model;
        console.log(`kept epoch ${r.epoch} (${r.seconds.toFixed(1)} s)`);
      }
      // a model on a device is evaluated there (only the nodes' classes read back); the attention
      // page is drawn on the host (copies of a device model's parameters)
      const state = Object.values(model.stateDict());
      const test = anyOnDevice(state) ? (await evaluateNodeClassifierAsync(model, ds)).test : evaluateNodeClassifier(model, ds).test;
      if (o.viz) await withModelOnHost(model, () => writeViz(model, ds, o));
      console.log(`accuracy: ${pct(test)}`);
    });

  graph.command("compare")
    .description("train every model over several seeds; test accuracy mean ± standard deviation per model")
    .requiredOption("--data <name>", DATA_HELP)
    .option("--models <list>", "comma-separated models", GRAPH_MODEL_KINDS.join(","))
    .option("--seeds <n>", "seeds 0 .. n-1", integerArg("--seeds", 1), 5)
    .option("--epochs <n>", "full-batch epochs", integerArg("--epochs", 1), 200)
    .action(async (o: { data: string; models: string; seeds: number; epochs: number }) => {
      const kinds = o.models.split(",").map((s) => kindOf(s.trim()));
      const ds = await loadGraphDataset(o.data);
      console.log(describe(ds));
      const rows: string[] = [];
      for (const kind of kinds) {
        const acc: number[] = [];
        let seconds = 0;
        for (let seed = 0; seed < o.seeds; seed++) {
          const r = await trainNodeClassifier(ds, { kind, seed, epochs: o.epochs });
          acc.push(r.test);
          seconds += r.seconds;
          console.log(`${kind} seed ${seed}: test ${pct(r.test)} (epoch ${r.epoch}, ${r.seconds.toFixed(1)} s)`);
        }
        const m = acc.reduce((a, b) => a + b, 0) / acc.length;
        const sd = Math.sqrt(acc.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, acc.length - 1));
        rows.push(`| ${kind} | ${(100 * m).toFixed(2)} ± ${(100 * sd).toFixed(2)} | ${acc.map((a) => (100 * a).toFixed(2)).join(", ")} | ${(seconds / acc.length).toFixed(1)} |`);
      }
      console.log(["| model | test accuracy % (mean ± sd) | per seed | s per run |", "|---|---|---|---|", ...rows].join("\n"));
    });
}
