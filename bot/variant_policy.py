"""A dialogue policy for the answer to "Which size: S, M or L?": the next message goes to action_add_to_cart
when it names one of the options or a position among the buttons, whatever intent the NLU gave it.

Typed answers ("medium", "the black one", "M", "第二个") are short and name things the NLU was never
trained on, so their intent is anything, often nlu_fallback. The question and what it offered are in
the slot ``variant_question``; ``actions.variants.answer`` reads the message against it, here and in the
action. The policy ranks above RulePolicy (priority 5 against 4) and predicts nothing otherwise.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from actions import slots
from actions.variants import answer

ADD_TO_CART = "action_add_to_cart"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT], is_trainable=True)
class VariantAnswerPolicy(Policy):
    """Sends an answer to the variant question to action_add_to_cart, then listens."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 5}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        with self._model_storage.write_to(self._resource):  # nothing to learn; Policy.load reads this folder
            pass
        return self._resource

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: dict[str, Any] | None = None, **kwargs: Any) -> PolicyPrediction:
        result = self._default_predictions(domain)
        if tracker.latest_action_name == ADD_TO_CART:  # what a rule does after it, whatever the intent was
            result[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        elif tracker.latest_action_name == ACTION_LISTEN_NAME and self._is_answer(tracker):
            result[domain.index_for_action(ADD_TO_CART)] = 1.0
        return self._prediction(result)

    @staticmethod
    def _is_answer(tracker: DialogueStateTracker) -> bool:
        said = [e for e in tracker.events if isinstance(e, UserUttered)]
        if len(said) < 2:
            return False
        message = tracker.latest_message
        values = {name: [str(e.get("value")) for e in message.entities if e.get("entity") == name]
                  for name in ("ordinal", "product_id")}
        return answer(tracker.get_slot(slots.VARIANT_QUESTION), said[-2].message_id, message.text or "",
                      values["ordinal"], values["product_id"]) is not None
