"""MazeNavigation-v0: output the next move on the shortest path through a fixed grid maze."""

from __future__ import annotations

from collections import deque

import numpy as np
from neurogym.utils import spaces

from ._base import TaskEnv, as_ms

#: action index -> (row change, column change); rows grow downwards.
MOVES = {0: (0, 0), 1: (-1, 0), 2: (1, 0), 3: (0, -1), 4: (0, 1)}
MOVE_NAMES = ("stay", "up", "down", "left", "right")


def generate_maze(n_rows, n_cols, maze_seed):
    """Random spanning-tree maze by randomised depth-first search.

    Parameters
    ----------
    n_rows : int
        Number of rows.
    n_cols : int
        Number of columns.
    maze_seed : int
        Seed of the layout (``numpy.random.RandomState``).

    Returns
    -------
    tuple of frozenset
        ``adjacency[cell]``: open neighbours of each cell (cell = row * n_cols + col). Every
        cell is reachable and the path between two cells is unique.
    """
    rng = np.random.RandomState(maze_seed)
    n = n_rows * n_cols
    adjacency = [set() for _ in range(n)]
    start = int(rng.randint(n))
    visited = {start}
    stack = [start]
    while stack:
        cell = stack[-1]
        r, c = divmod(cell, n_cols)
        free = [
            (r + dr) * n_cols + (c + dc)
            for dr, dc in (MOVES[k] for k in (1, 2, 3, 4))
            if 0 <= r + dr < n_rows and 0 <= c + dc < n_cols and (r + dr) * n_cols + (c + dc) not in visited
        ]
        if not free:
            stack.pop()
            continue
        nxt = free[rng.randint(len(free))]
        adjacency[cell].add(nxt)
        adjacency[nxt].add(cell)
        visited.add(nxt)
        stack.append(nxt)
    return tuple(frozenset(a) for a in adjacency)


class MazeNavigation(TaskEnv):
    """Navigate a fixed grid maze: output the next move towards the goal, one move per period.

    The maze (``shape`` rows x cols, default 5 x 5) is a random spanning tree generated from
    ``maze_seed`` (every cell reachable, shortest paths unique). Each trial draws a start and
    a different goal cell with ``self.rng``. The trial has ``n_moves = diameter + 1`` move periods
    of ``timing["move"]`` ms (``diameter``: the longest shortest path), so every trial has the same
    length and ends with at least one period at the goal. Teacher forcing: in move period k the
    current cell is ``path[min(k, len(path) - 1)]`` of the shortest path, whatever the network
    outputs.

    Inputs (n_in = 2 * n_cells): one-hot current cell (first n_cells) + one-hot goal cell.
    Targets (classification, n_out = 5): the move from the current cell along the shortest
    path: 0 = stay (at goal), 1 = up (row - 1), 2 = down (row + 1), 3 = left (col - 1),
    4 = right (col + 1); constant within a move period.
    Timing (ms): ``move`` 100 per period (5 steps at dt = 20 ms); trial steps = n_moves * steps
    per move (default 5 x 5 maze, maze_seed 0: diameter 18, 19 moves, 95 steps at dt = 20 ms).
    Masks: loss on every step; metric (``decision_mask``) on every step of a move period except
    the first ``response_delay`` ms (default 40 ms = 2 steps), giving the network time to react.
    Metric: classification; ``accuracy`` = fraction of correct scored steps, ``trial_accuracy`` =
    fraction of trials with every scored step correct.

    Parameters
    ----------
    dt : float (ms) or Brian2 time quantity
        The time step (default 20 ms).
    shape : tuple of int (n_rows, n_cols)
        Size of the grid (at least 2 cells; default 5 x 5).
    maze_seed : int
        Seed of the maze layout (independent of the trial seed).
    response_delay : float (ms) or Brian2 time quantity
        Time at the start of each move period excluded from the metric mask, >= 0.
    timing : dict, optional
        ``{"move": duration_ms}``.

    Notes
    -----
    ``new_trial(start=..., goal=...)`` fixes the cells (indices row * n_cols + col).
    """

    task_kind = "classification"
    extra_metrics = ("trial_accuracy",)
    default_timing = {"move": 100}
    metadata = {  # noqa: RUF012
        "description": "Output the next shortest-path move in a fixed grid maze (teacher forced).",
        "paper_name": "Paradoxical noise preference in RNNs (Eckstein & Srinivasan)",
        "paper_link": "https://arxiv.org/abs/2601.04539",
        "tags": ["supervised", "navigation", "multiple choice"],
        "render_modes": [],
        "metric": "accuracy",
    }

    def __init__(self, dt=20, shape=(5, 5), maze_seed=0, response_delay=40, timing=None):
        super().__init__(dt=dt, timing=timing)
        n_rows, n_cols = (int(s) for s in shape)
        if n_rows < 1 or n_cols < 1 or n_rows * n_cols < 2:
            raise ValueError(f"shape must be (n_rows, n_cols) with at least 2 cells, got {shape!r}")
        response_delay = as_ms(response_delay, "response_delay", allow_zero=True)
        self.shape = (n_rows, n_cols)
        self.n_cells = n_rows * n_cols
        self.maze_seed = maze_seed
        self.response_delay = float(response_delay)
        self.adjacency = generate_maze(n_rows, n_cols, maze_seed)
        self.distances, self.next_move = self._all_pairs()
        self.diameter = int(self.distances.max())
        self.n_moves = self.diameter + 1
        n = self.n_cells
        self.observation_space = spaces.Box(
            0.0, 1.0, shape=(2 * n,), dtype=np.float64,
            name={"position": list(range(n)), "goal": list(range(n, 2 * n))},
        )
        self.action_space = spaces.Discrete(5, name={"stay": 0, "move": [1, 2, 3, 4]})

    # -- maze geometry --------------------------------------------------------------------
    def apply_move(self, cell, move):
        """Cell reached from ``cell`` by ``move`` (0-4); ValueError if a wall or the border blocks it.

        Parameters
        ----------
        cell : int
            The current cell (row * n_cols + col).
        move : int
            The move, 0-4 (stay, up, down, left, right).

        Returns
        -------
        int
            The cell reached.
        """
        r, c = divmod(int(cell), self.shape[1])
        dr, dc = MOVES[int(move)]
        nxt = (r + dr) * self.shape[1] + (c + dc)
        if move != 0 and not (0 <= r + dr < self.shape[0] and 0 <= c + dc < self.shape[1] and nxt in self.adjacency[cell]):
            raise ValueError(f"move {MOVE_NAMES[move]} from cell {cell} goes through a wall")
        return nxt

    def _move_between(self, a, b):
        (ra, ca), (rb, cb) = divmod(a, self.shape[1]), divmod(b, self.shape[1])
        return next(k for k, d in MOVES.items() if d == (rb - ra, cb - ca))

    def _all_pairs(self):
        """BFS from every goal: distances (n, n) and next_move[cell, goal] (0 at the goal)."""
        n = self.n_cells
        dist = np.full((n, n), -1, dtype=np.int64)
        nxt = np.zeros((n, n), dtype=np.int64)
        for goal in range(n):
            dist[goal, goal] = 0
            queue = deque([goal])
            while queue:
                cell = queue.popleft()
                for nb in self.adjacency[cell]:
                    if dist[nb, goal] < 0:
                        dist[nb, goal] = dist[cell, goal] + 1
                        nxt[nb, goal] = self._move_between(nb, cell)
                        queue.append(nb)
        return dist, nxt

    def shortest_path(self, start, goal):
        """Cells of the shortest path from ``start`` to ``goal`` (both included).

        Parameters
        ----------
        start : int
            The start cell.
        goal : int
            The goal cell.

        Returns
        -------
        list of int
            The cells along the path.
        """
        path = [int(start)]
        while path[-1] != goal:
            path.append(self.apply_move(path[-1], self.next_move[path[-1], goal]))
        return path

    # -- trials ---------------------------------------------------------------------------
    def _new_trial(self, **kwargs):
        start, goal = self.rng.choice(self.n_cells, 2, replace=False)
        trial = {"start": int(start), "goal": int(goal)}
        trial.update(kwargs)
        start, goal = int(trial["start"]), int(trial["goal"])
        for name, cell in [("start", start), ("goal", goal)]:
            if not 0 <= cell < self.n_cells:
                raise ValueError(f"{name} must be a cell index in [0, {self.n_cells}), got {cell}")
        path = self.shortest_path(start, goal)
        steps = self.period_steps("move")
        delay = min(int(np.floor(self.response_delay / self.dt + 1e-9)), steps - 1)
        names = [f"move{k}" for k in range(self.n_moves)]
        self._build_trial([(name, steps) for name in names])
        self.ob[:, self.n_cells + goal] = 1.0
        positions, moves = [], []
        for k, name in enumerate(names):
            cell = path[min(k, len(path) - 1)]
            move = int(self.next_move[cell, goal])
            sl = self.period_slice(name)
            self.ob[sl, cell] = 1.0
            self.gt[sl] = move
            self.decision_mask[sl.start + delay : sl.stop] = True
            positions.append(cell)
            moves.append(move)
        self.loss_mask[:] = True
        trial.update(path=tuple(path), positions=tuple(positions), moves=tuple(moves))
        return trial


class ClosedLoopMazeNavigation(MazeNavigation):
    """MazeNavigation in closed loop: the network's own moves decide where it is next.

    The same maze, trials, inputs, targets, timing and masks as :class:`MazeNavigation` when
    trials are generated as a batch (``tasks.batch`` gives exactly MazeNavigation-v0's
    teacher-forced trials for a seed, so a network trained on either is the same network).
    When the environment is *stepped* (``env.step(action)``, as
    :func:`~brian_noisy_rnn.evaluation.closed_loop` does), the action taken on the **last
    step of each move period** is carried out at the end of that period: the agent moves to
    the neighbouring cell if no wall or border blocks the move, and stays where it is otherwise
    (a bump); "stay" keeps it in place. From the next step on the observation shows the new
    current cell and the target is the shortest-path move from there. Errors therefore
    compound: a wrong move costs at least two move periods (away and back), and the trial has
    a fixed ``n_moves = diameter + 1`` periods, one more than the longest shortest path.

    Scores (what ``env.step`` reports; :func:`~brian_noisy_rnn.evaluation.closed_loop`
    collects them per trial):

    - ``info["performance"]`` at the end of the trial: **goal reached**, 1.0 if the agent
      stood on the goal at the end of any move period, else 0.0 (the curve metric
      ``"goal_reached"``, see :attr:`closed_loop_metrics`);
    - ``reward``: 1.0 at the end of every move period that ends on the goal, so the summed
      reward is the number of periods spent at the goal (``n_moves`` minus the periods needed
      to arrive, if the agent stays): a faster arrival scores more (``"periods_at_goal"``).

    The trial dict also records ``visited``, the cells at the end of each move period so far.
    An oracle that plays ``gt_now`` reaches the goal in every trial.

    Parameters
    ----------
    dt : float (ms) or Brian2 time quantity
        The time step (default 20 ms).
    shape : tuple of int (n_rows, n_cols)
        Size of the grid (at least 2 cells; default 5 x 5).
    maze_seed : int
        Seed of the maze layout (independent of the trial seed).
    response_delay : float (ms) or Brian2 time quantity
        Time at the start of each move period excluded from the metric mask, >= 0.
    timing : dict, optional
        ``{"move": duration_ms}``.

    Attributes
    ----------
    closed_loop_metrics : dict of str to str
        Names of the closed-loop scores: ``{"performance": "goal_reached", "reward":
        "periods_at_goal"}``.
    """

    closed_loop_metrics = {"performance": "goal_reached", "reward": "periods_at_goal"}  # noqa: RUF012
    metadata = {  # noqa: RUF012
        **MazeNavigation.metadata,
        "description": "Navigate a fixed grid maze in closed loop: the network's moves decide "
                       "where it is next; scored by reaching the goal.",
    }

    def _new_trial(self, **kwargs):
        trial = super()._new_trial(**kwargs)
        self._cell, self._goal = trial["start"], trial["goal"]
        self._steps_per_move = self.period_steps("move")
        self._reached = False
        trial["visited"] = []
        return trial

    def _step(self, action):
        t = self.t_ind
        reward = 0.0
        steps = self._steps_per_move
        if t % steps == steps - 1:  # the last step of a move period: carry out the move
            move = int(action)
            if not 0 <= move < len(MOVES):
                raise ValueError(f"action must be a move 0-4, got {action!r}")
            try:
                self._cell = self.apply_move(self._cell, move)
            except ValueError:  # a wall or the border: the agent stays
                pass
            self.trial["visited"].append(self._cell)
            if self._cell == self._goal:
                self._reached = True
                reward = 1.0
            self.performance = 1.0 if self._reached else 0.0
            rest = slice(t + 1, None)
            self.ob[rest, : self.n_cells] = 0.0
            self.ob[rest, self._cell] = 1.0
            self.gt[rest] = self.next_move[self._cell, self._goal]
        return self.ob_now, reward, False, False, {"new_trial": False, "gt": self.gt[t]}
