"""Runs the official PyTorch CUT (taesungp/contrastive-unpaired-translation) for bench/reference.mjs.

Run with Debian's /usr/bin/python3 (python3-torch), never from inside the reference's folder:

  reference_driver.py check
      prints the versions of python, torch and torchvision as one @@ line (and fails when
      torch, torchvision or dominate can't be imported).
  reference_driver.py train --ref DIR --threads T [--seed S] [--losses] -- <train.py flags>
      runs the reference's own train.py, unmodified, with sys.argv = ['train.py', flags...]; the
      model's optimize_parameters is wrapped to print one @@ line per iteration (with --losses,
      the model's get_current_losses() after the step, as train.py's print_freq logging reads
      them). --seed seeds Python's random, NumPy and torch first: the reference sets no seed of
      its own, so two seeds give two runs of its own spread (bench/parity.mjs).
  reference_driver.py infer --ref DIR --threads T --sizes 256,1024 --warmup W --repeats M
                            [--ngf 64 --netG resnet_9blocks] [--save-g FILE] [--device cuda]
      times the reference generator's forward (define_G with the default CUT options) under
      torch.no_grad on 1x3xSxS inputs (on the CPU, or --device cuda: synchronised before each
      clock reading); --save-g writes its weights (a state_dict, as the
      reference's save_networks does) so that cutjs can translate with the same generator.

Every line meant for bench/reference.mjs starts with '@@' followed by one JSON object.
"""
import argparse
import json
import os
import runpy
import sys
import time


def emit(event):
    print('@@' + json.dumps(event), flush=True)


def set_threads(threads):
    import torch

    torch.set_num_threads(threads)
    return torch.get_num_threads()


def enter_reference(ref):
    """Makes the reference importable as train.py sees it: its folder is the cwd and on sys.path."""
    ref = os.path.abspath(ref)
    if not os.path.isfile(os.path.join(ref, 'train.py')):
        sys.exit(f'{ref}: no train.py here; CUT_REFERENCE_DIR must be a checkout of taesungp/contrastive-unpaired-translation')
    os.chdir(ref)
    sys.path.insert(0, ref)
    return ref


def check(_args):
    import platform

    # What the reference imports on the way to train.py's loop, each from its Debian package.
    import dominate  # noqa: F401  (util/html.py)
    import numpy  # noqa: F401
    import packaging.version  # noqa: F401  (models/patchnce.py)
    import PIL  # noqa: F401
    import torch
    import torchvision

    cuda = torch.cuda.is_available()
    emit({'event': 'versions', 'python': platform.python_version(), 'torch': torch.__version__, 'torchvision': torchvision.__version__,
          'defaultThreads': torch.get_num_threads(), 'cuda': cuda, 'cudaDevice': torch.cuda.get_device_name(0) if cuda else None})


def train(args):
    ref = enter_reference(args.ref)
    threads = set_threads(args.threads)
    import torch

    if args.seed is not None:
        import random

        import numpy

        random.seed(args.seed)
        numpy.random.seed(args.seed)
        torch.manual_seed(args.seed)
    from models.cut_model import CUTModel

    emit({'event': 'start', 'threads': threads, 'torch': torch.__version__, 'reference': ref, 'seed': args.seed})
    state = {'iteration': 0, 'previousEnd': None}
    original_init = CUTModel.data_dependent_initialize
    original_step = CUTModel.optimize_parameters

    def data_dependent_initialize(self, data):
        # The first iteration's interval starts here (its batch is already loaded).
        state['previousEnd'] = time.perf_counter()
        return original_init(self, data)

    def optimize_parameters(self):
        start = time.perf_counter()
        result = original_step(self)
        end = time.perf_counter()
        state['iteration'] += 1
        # Interval from the end of the previous step: data loading, set_input and train.py's
        # bookkeeping included, as cutjs's log.jsonl measures its iterations.
        event = {'event': 'iteration', 'iteration': state['iteration'], 'seconds': end - state['previousEnd'], 'optimizeSeconds': end - start}
        if args.losses:
            event['losses'] = {name: float(value) for name, value in self.get_current_losses().items()}
        emit(event)
        state['previousEnd'] = end
        return result

    CUTModel.data_dependent_initialize = data_dependent_initialize
    CUTModel.optimize_parameters = optimize_parameters
    sys.argv = ['train.py', *args.train_args]
    runpy.run_path(os.path.join(ref, 'train.py'), run_name='__main__')
    emit({'event': 'done', 'iterations': state['iteration']})


def infer(args):
    ref = enter_reference(args.ref)
    threads = set_threads(args.threads)
    import torch
    from models import networks

    torch.manual_seed(0)
    # The reference's defaults for CUT: instance norm, no dropout, xavier (gain 0.02), antialiased
    # down- and upsampling.
    netG = networks.define_G(3, 3, args.ngf, args.netG, 'instance', False, 'xavier', 0.02, False, False, [], None)
    if args.save_g:
        torch.save(netG.state_dict(), args.save_g)
    params = sum(p.numel() for p in netG.parameters())
    device = torch.device(args.device)
    netG.to(device)
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    emit({'event': 'start', 'threads': threads, 'torch': torch.__version__, 'reference': ref, 'parameters': params, 'device': str(device)})
    with torch.no_grad():
        for size in args.sizes:
            x = (torch.rand(1, 3, size, size) * 2 - 1).to(device)
            times = []
            for i in range(args.warmup + args.repeats):
                sync()
                start = time.perf_counter()
                y = netG(x)
                sync()
                seconds = time.perf_counter() - start
                del y
                times.append(seconds)
                emit({'event': 'forward', 'size': size, 'index': i + 1, 'warmup': i < args.warmup, 'seconds': seconds})
            del x
    emit({'event': 'done'})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('check')
    p = sub.add_parser('train')
    p.add_argument('--ref', required=True)
    p.add_argument('--threads', type=int, required=True)
    p.add_argument('--seed', type=int)
    p.add_argument('--losses', action='store_true')
    p.add_argument('train_args', nargs=argparse.REMAINDER)
    p = sub.add_parser('infer')
    p.add_argument('--ref', required=True)
    p.add_argument('--threads', type=int, required=True)
    p.add_argument('--sizes', type=lambda s: [int(v) for v in s.split(',')], default=[256, 1024])
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--ngf', type=int, default=64)
    p.add_argument('--netG', default='resnet_9blocks')
    p.add_argument('--save-g', dest='save_g')
    p.add_argument('--device', default='cpu')
    args = parser.parse_args()
    if args.command == 'train' and args.train_args[:1] == ['--']:
        args.train_args = args.train_args[1:]
    {'check': check, 'train': train, 'infer': infer}[args.command](args)


if __name__ == '__main__':
    main()
