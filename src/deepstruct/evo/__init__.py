"""Neuroevolution of sparse networks: config, algorithms (GA, (mu+lambda), NSGA-II, aging), fitness, evaluators
(serial, Ray), checkpoints with resume, and reports. Ray and torch are imported lazily."""

from deepstruct.evo.algorithms import (
    NSGA2,
    AgingEvolution,
    GenerationalGA,
    Individual,
    MuPlusLambda,
    Strategy,
    Variation,
    make_strategy,
)
from deepstruct.evo.config import (
    AlgorithmConfig,
    ConfigError,
    EvaluatorConfig,
    GenomeConfig,
    RunConfig,
    TaskConfig,
    TrainingConfig,
    load_config,
)
from deepstruct.evo.evaluators import Evaluator, RayEvaluator, SerialEvaluator
from deepstruct.evo.fitness import evaluate_genome, evaluate_requests, penalty_result
from deepstruct.evo.protocol import EvaluationRequest, EvaluationResult, individual_seed
from deepstruct.evo.run import EvolutionRun
from deepstruct.evo.tasks import Task, load_task, register_task

__all__ = [
    "RunConfig", "TaskConfig", "GenomeConfig", "TrainingConfig", "AlgorithmConfig", "EvaluatorConfig", "ConfigError",
    "load_config", "Individual", "Strategy", "Variation", "GenerationalGA", "MuPlusLambda", "NSGA2",
    "AgingEvolution", "make_strategy", "Evaluator", "SerialEvaluator", "RayEvaluator", "evaluate_genome",
    "penalty_result", "EvolutionRun", "individual_seed", "Task", "load_task", "register_task", "evaluate_requests",
    "EvaluationRequest", "EvaluationResult",
]
