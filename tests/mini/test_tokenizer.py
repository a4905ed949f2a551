from ttscale.mini import tokenizer as mini_tokenizer
from ttscale.mini.models import load_tokenizer


def test_yes_and_no_are_single_tokens():
    tok = load_tokenizer()
    assert len(tok.encode("Yes", add_special_tokens=False)) == 1
    assert len(tok.encode("No", add_special_tokens=False)) == 1


def test_step_marker_is_one_special_token():
    tok = load_tokenizer()
    ids = tok.encode(f"Step 1{mini_tokenizer.STEP}", add_special_tokens=False)
    assert ids[-1] == tok.convert_tokens_to_ids(mini_tokenizer.STEP)


def test_digits_are_split_one_per_token():
    tok = load_tokenizer()
    pieces = [tok.decode([i]) for i in tok.encode("4821", add_special_tokens=False)]
    assert pieces == ["4", "8", "2", "1"]


def test_chat_template_renders_chatml_and_generation_prompt():
    tok = load_tokenizer()
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>"


def test_continue_final_message_leaves_the_assistant_turn_open():
    tok = load_tokenizer()
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Step 1:"}],
        tokenize=False,
        continue_final_message=True,
    )
    assert text.endswith("<|im_start|>assistant\nStep 1:")


def test_round_trip_of_a_solution_is_exact():
    tok = load_tokenizer()
    text = "Step 1: 926 * 3 = 2778\n\nThe answer is \\boxed{2778}."
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_rebuilding_gives_the_shipped_vocabulary(tmp_path):
    rebuilt = mini_tokenizer.build_tokenizer(tmp_path)
    assert rebuilt.get_vocab() == load_tokenizer().get_vocab()
