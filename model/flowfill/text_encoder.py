"""A tiny CLIP-style text encoder (CLIPTextModelWithProjection layout and names).

Outputs follow transformers' CLIP: hidden_states = (embeddings, after layer 1, ..., after layer N),
last_hidden_state = final_layer_norm(hidden_states[N]), text_embeds = text_projection of
last_hidden_state at the first <eos> token. SD3 conditions the MM-DiT on hidden_states[N-1]
(penultimate, no final norm) per token and on text_embeds pooled; so does Flowfill.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

TEXT_CONFIG = {
    "architectures": ["CLIPTextModelWithProjection"],
    "model_type": "clip_text_model",
    "hidden_size": 256,
    "intermediate_size": 1024,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "max_position_embeddings": 24,
    "projection_dim": 256,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "vocab_size": None,  # from the tokenizer
    "pad_token_id": 0,
    "bos_token_id": 2,
    "eos_token_id": 3,
}


class CLIPAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        b, n, d = x.shape
        q, k, v = (p(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for p in (self.q_proj, self.k_proj, self.v_proj))
        scores = (q @ k.transpose(-1, -2)) * (d // self.heads) ** -0.5 + mask
        out = scores.softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class CLIPMLP(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.layer_norm1 = nn.LayerNorm(d, eps=cfg["layer_norm_eps"])
        self.self_attn = CLIPAttention(d, cfg["num_attention_heads"])
        self.layer_norm2 = nn.LayerNorm(d, eps=cfg["layer_norm_eps"])
        self.mlp = CLIPMLP(d, cfg["intermediate_size"])

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])
        nn.init.normal_(self.token_embedding.weight, std=0.02)
        nn.init.normal_(self.position_embedding.weight, std=0.01)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.token_embedding(input_ids) + self.position_embedding(positions)[None]


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(cfg)
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class CLIPTextModelWithProjection(nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        if not config.get("vocab_size"):
            raise ValueError("text encoder config: vocab_size must be set from the tokenizer (len(tokenizer.vocab))")
        self.config = dict(config)
        self.text_model = CLIPTextTransformer(self.config)
        self.text_projection = nn.Linear(config["hidden_size"], config["projection_dim"], bias=False)

    def forward(self, input_ids):
        """Returns (text_embeds [B,P], last_hidden_state [B,L,H], hidden_states: list of N+1 [B,L,H])."""
        L = input_ids.shape[1]
        # Causal mask as CLIP; a large negative instead of -inf keeps the ONNX graph NaN-free.
        mask = torch.full((L, L), -1e4, device=input_ids.device).triu(1)[None, None]
        x = self.text_model.embeddings(input_ids)
        hidden_states = [x]
        for layer in self.text_model.encoder.layers:
            x = layer(x, mask)
            hidden_states.append(x)
        last = self.text_model.final_layer_norm(x)
        eos_pos = (input_ids == self.config["eos_token_id"]).int().argmax(dim=-1)
        pooled = last[torch.arange(last.shape[0], device=last.device), eos_pos]
        return self.text_projection(pooled), last, hidden_states


def sd3_conditioning(text_encoder: CLIPTextModelWithProjection, input_ids, joint_attention_dim: int, max_sequence_length: int):
    """SD3 text assembly with one CLIP and no T5: per-token penultimate states zero-padded to
    joint_attention_dim, then T5 zeros [max_sequence_length, joint_attention_dim]; pooled = text_embeds."""
    pooled, _, hidden_states = text_encoder(input_ids)
    tokens = hidden_states[-2]
    tokens = F.pad(tokens, (0, joint_attention_dim - tokens.shape[-1]))
    t5 = tokens.new_zeros(tokens.shape[0], max_sequence_length, joint_attention_dim)
    return torch.cat([tokens, t5], dim=1), pooled


class TextEncoderExport(nn.Module):
    def __init__(self, te: CLIPTextModelWithProjection):
        super().__init__()
        self.te = te

    def forward(self, input_ids):
        text_embeds, last, hidden_states = self.te(input_ids)
        return (text_embeds, last, *hidden_states)
