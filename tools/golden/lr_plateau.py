"""Golden values for `--lr_policy plateau`: torch.optim.lr_scheduler.ReduceLROnPlateau as the
reference builds it (models/networks.py get_scheduler: mode='min', factor=0.2, threshold=0.01,
patience=5; threshold_mode 'rel', cooldown 0, min_lr 0, eps 1e-8 by default) and steps it
(models/base_model.py update_learning_rate: scheduler.step(self.metric) at the end of every epoch,
where self.metric is set to 0 in BaseModel.__init__ and never changed by CUTModel).

Run: /usr/bin/python3 tools/golden/lr_plateau.py  (writes fixtures/golden/lr_plateau.json)

* `cut`: the lr in force while training each epoch of range(epoch_count, n_epochs + n_epochs_decay + 1)
  with the metric 0, and the scheduler's state_dict after each end-of-epoch step (what a resume needs).
* `metrics`: the same scheduler stepped with given metric sequences (improvements, plateaus within
  the 1% threshold, negative values), and one with other settings (cooldown, min_lr, abs threshold),
  to check the semantics beyond a constant metric.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_common as gc  # noqa: E402

OUT = os.path.join(gc.GOLDEN, 'lr_plateau.json')


def scheduler(lr, **kw):
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([param], lr=lr, betas=(0.5, 0.999))
    args = dict(mode='min', factor=0.2, threshold=0.01, patience=5)
    args.update(kw)
    return opt, torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **args)


def state(s):
    d = s.state_dict()
    best = d['best']
    return {'best': 'inf' if best == math.inf else ('-inf' if best == -math.inf else best),
            'num_bad_epochs': d['num_bad_epochs'], 'cooldown_counter': d['cooldown_counter'],
            'last_epoch': d['last_epoch'], 'lr': d['_last_lr'][0]}


def cut_run(lr, n_epochs, n_epochs_decay, epoch_count=1):
    opt, s = scheduler(lr)
    lrs, states = [], []
    for epoch in range(epoch_count, n_epochs + n_epochs_decay + 1):
        lrs.append([epoch, opt.param_groups[0]['lr']])
        s.step(0)  # BaseModel.metric
        states.append(state(s))
    return {'options': {'lr_policy': 'plateau', 'lr': lr, 'n_epochs': n_epochs, 'n_epochs_decay': n_epochs_decay,
                        'epoch_count': epoch_count, 'lr_decay_iters': 50},
            'lr_per_epoch': lrs, 'states': states}


def metric_run(lr, metrics, **kw):
    opt, s = scheduler(lr, **kw)
    out = []
    for m in metrics:
        s.step(m)
        out.append(state(s))
    return {'lr': lr, 'settings': kw, 'metrics': metrics, 'states': out}


def main():
    falling = [1.0, 0.995, 0.99, 0.98, 0.97, 0.9701, 0.97, 0.969, 0.968, 0.965, 0.961, 0.9605, 0.95, 0.95, 0.95,
               0.95, 0.95, 0.95, 0.95, 0.95, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    negative = [-1.0, -1.005, -1.02, -1.02, -1.02, -1.02, -1.02, -1.02, -1.02, -1.5, -1.5]
    doc = {
        'meta': {'torch': torch.__version__, 'note': 'lr after each step is state_dict()["_last_lr"][0]'},
        'cut': [
            cut_run(0.0002, 30, 30),
            cut_run(0.001, 3, 20, epoch_count=5),
            cut_run(0.0002, 1, 0),
        ],
        'metrics': [
            metric_run(0.0002, falling),
            metric_run(0.01, negative),
            metric_run(0.01, falling, cooldown=2, min_lr=0.0005, threshold_mode='abs', threshold=0.004, patience=2),
        ],
    }
    gc.write_text(OUT, json.dumps(doc, indent=1))
    print('wrote', OUT)


if __name__ == '__main__':
    main()
