// Frees each intermediate gradient once the backward pass has used it.
//
// tfjs-core's backward pass (tape.ts, backpropagateGradients) keeps the gradient of every
// intermediate tensor until the whole pass ends; PyTorch frees each as soon as its node has
// run. For a CUT step that is most of the memory above the reference's. The pass runs one node
// at a time in reverse order, calling all of a node's input-gradient closures before it moves
// on: so when one of our gradient functions starts, the upstream gradients (dy) handed to the
// earlier ones are used up, and are freed then. Only gradients that our own closures made are
// freed (never a dy the caller passed to tf.grad, nor a gradient a closure handed on as it is);
// gradients summed by the engine (tensors used twice) wait for the end of the pass as before.
// Assumes no backward pass runs inside a gradient closure (tfjs never does; our code neither).
import type { GradConfig, Tensor } from '@tensorflow/tfjs-core';

type GradientMap = ReturnType<GradConfig['gradFunc']>;

/** Gradients our closures returned: fresh tensors only the engine's gradient map refers to. */
const made = new WeakSet<Tensor>();
/** The upstream gradients of nodes whose closures have run (read when freed: a closure may still take one back). */
let usedUpGradients: Tensor[][] = [];

function freeUsedUp(): void {
  for (const dys of usedUpGradients) for (const dy of dys) if (made.has(dy)) dy.dispose();
  usedUpGradients = [];
}

function madeGradient<T extends Tensor>(g: T): T {
  made.add(g);
  return g;
}

/** Declares upstream gradients used up once this node's closures have run; returns the list (closures may take one back). */
function usedUp(dys: Array<Tensor | null | undefined>): Tensor[] {
  const list = dys.filter((t): t is Tensor => t != null);
  usedUpGradients.push(list);
  return list;
}

/**
 * For a customGrad's gradFunc, which computes its result at once from `dy`: `dy` is used up
 * (freed at the next node of ours), the result is ours to free later.
 */
export function eagerGradient<T extends Tensor>(dy: Tensor, compute: () => T): T {
  usedUp([dy]);
  return madeGradient(compute());
}

/** The same gradient, freeing what earlier nodes used up and marking what it makes. */
export function releasingUsedGradients(config: GradConfig): GradConfig {
  return {
    ...config,
    gradFunc: (dy, saved, attrs) => {
      freeUsedUp();
      const grads = config.gradFunc(dy, saved, attrs);
      const dys = usedUp(Array.isArray(dy) ? dy : [dy]);
      const wrapped: GradientMap = {};
      for (const [name, f] of Object.entries(grads)) {
        wrapped[name] = () => {
          const g = f();
          // A closure handing on a dy as it is: that dy lives on as another tensor's gradient.
          const i = dys.indexOf(g);
          if (i >= 0) dys.splice(i, 1);
          return madeGradient(g);
        };
      }
      return wrapped;
    },
  };
}
