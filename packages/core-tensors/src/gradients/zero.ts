// Kernels whose output is piecewise constant in their inputs (rounding, signs,
// comparisons, argmax, constant-fill-likes). Their gradient is zero almost everywhere;
// registering it lets tfjs backpropagate through graphs where such a kernel sits on a
// path from a watched tensor (e.g. `where(x > 0, …)`), instead of throwing
// "gradient function not found".
import * as tf from '@tensorflow/tfjs-core';
import {
  ArgMax,
  ArgMin,
  Ceil,
  Equal,
  Floor,
  Greater,
  GreaterEqual,
  IsFinite,
  IsInf,
  IsNan,
  Less,
  LessEqual,
  LogicalAnd,
  LogicalNot,
  LogicalOr,
  NotEqual,
  OnesLike,
  Round,
  Sign,
  Step,
  ZerosLike,
  type GradConfig,
} from '@tensorflow/tfjs-core';
import { savedAt } from './util.js';

function zeroGradient(kernelName: string, inputNames: string[]): GradConfig {
  return {
    kernelName,
    inputsToSave: inputNames,
    gradFunc: (_dy, saved) => Object.fromEntries(inputNames.map((name, i) => [name, () => tf.zeros(savedAt(saved, i).shape, 'float32')])),
  };
}

const unaryKernels = [Floor, Ceil, Round, Sign, Step, IsNan, IsInf, IsFinite, LogicalNot, ZerosLike, OnesLike, ArgMax, ArgMin];
const binaryKernels = [Equal, NotEqual, Greater, GreaterEqual, Less, LessEqual, LogicalAnd, LogicalOr];

export const zeroGradients: GradConfig[] = [
  ...unaryKernels.map((k) => zeroGradient(k, ['x'])),
  ...binaryKernels.map((k) => zeroGradient(k, ['a', 'b'])),
];
