"""A deterministic sample shop for the demo and tests: a few hundred products and shopper sessions."""
from __future__ import annotations

import random
from typing import Any

# category → (brands, product nouns, descriptive phrases, attribute name → choices, price range)
_CATEGORIES: dict[str, tuple[list[str], list[str], list[str], dict[str, list[str]], tuple[int, int]]] = {
    "Running Shoes": (["Stridex", "Asphalt", "Kinetic"], ["road running shoe", "trail running shoe", "racing flat", "cushioned trainer", "stability running shoe"],
                      ["breathable mesh upper", "responsive foam midsole", "grippy rubber outsole", "reflective details for night runs"],
                      {"size": ["40", "41", "42", "43", "44"], "drop": ["4 mm", "8 mm", "10 mm"]}, (60, 180)),
    "Hiking Boots": (["Ridgeline", "Summit & Co", "Alpwerk"], ["waterproof hiking boot", "lightweight hiking shoe", "leather trekking boot", "mid-cut approach shoe"],
                     ["Gore-Tex membrane", "Vibram sole", "padded ankle collar", "lugged outsole for rocky trails"],
                     {"size": ["39", "41", "43", "45"], "waterproof": ["yes"]}, (90, 260)),
    "Rain Jackets": (["Ridgeline", "Drizzle", "Northtide"], ["packable rain jacket", "3-layer shell jacket", "insulated rain parka", "cycling rain jacket"],
                     ["taped seams", "adjustable hood", "pit zips for ventilation", "packs into its own pocket"],
                     {"colour": ["navy", "red", "olive", "black"], "waterproof rating": ["10,000 mm", "20,000 mm"]}, (70, 320)),
    "Backpacks": (["Trailpack", "Summit & Co", "Urbanloop"], ["hiking daypack", "laptop backpack", "travel backpack", "hydration pack"],
                  ["padded laptop sleeve", "ventilated back panel", "hip belt with pockets", "rain cover included"],
                  {"volume": ["18 l", "25 l", "32 l", "45 l"]}, (40, 200)),
    "Tents": (["Basecamp", "Alpwerk", "Northtide"], ["two-person backpacking tent", "family camping tent", "ultralight trekking tent", "four-season mountain tent"],
              ["freestanding aluminium poles", "two vestibules", "footprint included", "sets up in five minutes"],
              {"capacity": ["1 person", "2 persons", "4 persons"], "weight": ["1.2 kg", "2.1 kg", "5.4 kg"]}, (120, 600)),
    "Sleeping Bags": (["Basecamp", "Downhill", "Alpwerk"], ["down sleeping bag", "synthetic sleeping bag", "summer sleeping bag", "mummy sleeping bag"],
                      ["comfort rating for cold nights", "compression sack", "draft collar", "water-resistant shell"],
                      {"comfort temperature": ["-5 °C", "0 °C", "5 °C", "10 °C"]}, (60, 380)),
    "Coffee Makers": (["Brewmaster", "Kaffeehaus", "Morning Co"], ["drip coffee maker", "pour-over coffee set", "French press", "cold brew maker"],
                      ["thermal carafe keeps coffee hot", "programmable timer", "borosilicate glass", "reusable steel filter"],
                      {"capacity": ["0.6 l", "1 l", "1.5 l"]}, (25, 160)),
    "Espresso Machines": (["Kaffeehaus", "Barista Pro", "Milano"], ["semi-automatic espresso machine", "bean-to-cup espresso machine", "manual lever espresso maker", "capsule espresso machine"],
                          ["15 bar pump", "steam wand for milk foam", "built-in conical grinder", "heats up in 30 seconds"],
                          {"colour": ["stainless steel", "black", "cream"]}, (90, 900)),
    "Cookware": (["Ironclad", "Chef's Table", "Cucina"], ["cast iron skillet", "stainless steel saucepan", "non-stick frying pan", "enamelled Dutch oven"],
                 ["oven safe to 260 °C", "works on induction", "riveted stay-cool handle", "PFAS-free coating"],
                 {"diameter": ["20 cm", "24 cm", "28 cm"]}, (30, 250)),
    "Kitchen Knives": (["Hayashi", "Chef's Table", "Solinger"], ["chef's knife", "santoku knife", "paring knife", "bread knife"],
                       ["forged German steel", "Damascus-pattern blade", "full tang", "ergonomic pakkawood handle"],
                       {"blade length": ["9 cm", "18 cm", "20 cm", "23 cm"]}, (25, 220)),
    "Headphones": (["Sonora", "Bassline", "Quietwave"], ["noise-cancelling headphones", "wireless earbuds", "studio headphones", "sport earbuds"],
                   ["active noise cancelling", "30-hour battery", "multipoint Bluetooth", "sweat resistant"],
                   {"colour": ["black", "white", "blue"], "connection": ["Bluetooth 5.3", "wired"]}, (40, 400)),
    "Bluetooth Speakers": (["Sonora", "Bassline", "Boomcube"], ["portable Bluetooth speaker", "waterproof party speaker", "smart speaker", "mini speaker"],
                           ["360-degree sound", "IP67 waterproof", "12-hour battery", "pairs two speakers for stereo"],
                           {"colour": ["black", "red", "teal"]}, (30, 300)),
    "Smartwatches": (["Pulse", "Chronofit", "Wristlab"], ["GPS sports watch", "fitness tracker", "smartwatch", "hybrid smartwatch"],
                     ["heart rate monitor", "built-in GPS", "sleep tracking", "7-day battery"],
                     {"case size": ["40 mm", "44 mm", "46 mm"]}, (50, 500)),
    "Laptops": (["Veloce", "Nimbus", "Corebook"], ["13-inch ultrabook", "15-inch laptop", "gaming laptop", "2-in-1 convertible laptop"],
                ["16 GB RAM", "1 TB SSD", "OLED display", "all-day battery"],
                {"processor": ["8-core", "12-core"], "weight": ["1.1 kg", "1.6 kg", "2.3 kg"]}, (600, 2400)),
    "Yoga & Fitness": (["Flowfit", "Corestrong", "Zenmat"], ["non-slip yoga mat", "cork yoga block", "resistance band set", "foam roller"],
                       ["eco-friendly natural rubber", "extra thick for joint support", "carry strap included", "textured surface"],
                       {"thickness": ["4 mm", "6 mm", "8 mm"]}, (15, 120)),
    "Dumbbells & Weights": (["Ironhouse", "Corestrong", "Liftlab"], ["adjustable dumbbell", "kettlebell", "hex dumbbell pair", "weight plate set"],
                            ["quick-change weight dial", "knurled chrome handle", "rubber coated", "space-saving stand"],
                            {"weight": ["8 kg", "12 kg", "16 kg", "24 kg"]}, (30, 450)),
    "Water Bottles": (["Hydra", "Trailpack", "Steelsip"], ["insulated water bottle", "collapsible water bottle", "filter water bottle", "kids water bottle"],
                      ["keeps drinks cold 24 hours", "leak-proof lid", "BPA-free", "fits cup holders"],
                      {"capacity": ["0.5 l", "0.75 l", "1 l"]}, (10, 60)),
    "Desk Lamps": (["Lumen", "Arco", "Brightnest"], ["LED desk lamp", "architect lamp", "clip-on reading light", "smart desk lamp"],
                   ["dimmable warm to cool light", "USB charging port", "flicker-free", "adjustable arm"],
                   {"colour": ["white", "black", "brass"]}, (20, 180)),
    "Office Chairs": (["Posture", "Sitwell", "Ergoline"], ["ergonomic office chair", "mesh task chair", "kneeling chair", "executive chair"],
                      ["adjustable lumbar support", "4D armrests", "breathable mesh back", "synchro tilt"],
                      {"colour": ["black", "grey"]}, (120, 900)),
    "Board Games": (["Meeple House", "Tabletop Co", "Dicecraft"], ["strategy board game", "cooperative board game", "party game", "family card game"],
                    ["2–5 players", "60-minute play time", "easy to learn", "award-winning design"],
                    {"age": ["8+", "10+", "14+"]}, (15, 80)),
}
_MODELS = ["Air", "Pro", "Lite", "Max", "Trail", "Classic", "Edge", "Nova", "Flex", "Peak", "One", "Terra", "Zen", "Core", "Aero"]


def catalogue(per_category: int = 15, seed: int = 7) -> list[dict[str, Any]]:
    """A few hundred realistic products (``per_category`` × 20 categories), the same on every call."""
    rng = random.Random(seed)
    items = []
    for c_index, (category, (brands, nouns, phrases, attrs, (low, high))) in enumerate(_CATEGORIES.items()):
        for n in range(per_category):
            brand = brands[n % len(brands)]
            noun = nouns[(n // len(brands)) % len(nouns)]
            model = _MODELS[(n + c_index) % len(_MODELS)]
            picked = rng.sample(phrases, 2)
            items.append({
                "item_id": f"p{c_index:02d}{n:03d}",
                "title": f"{brand} {model} {noun}",
                "description": f"{noun.capitalize()} with {picked[0]} and {picked[1]}.",
                "category": category,
                "attributes": {name: rng.choice(values) for name, values in attrs.items()},
                "price": float(rng.randint(low, high)) - 0.01,
                "in_stock": rng.random() > 0.05,
            })
    return items


# persona → (search queries, categories they browse, categories they buy in)
_PERSONAS = {
    "trail-runner": (["trail running shoes", "waterproof running jacket"], ["Running Shoes", "Rain Jackets", "Smartwatches"]),
    "home-barista": (["espresso machine with grinder", "milk frother"], ["Espresso Machines", "Coffee Makers", "Kitchen Knives"]),
    "weekend-hiker": (["lightweight tent for two", "down sleeping bag"], ["Tents", "Sleeping Bags", "Hiking Boots", "Backpacks"]),
    "home-office": (["ergonomic chair for back pain", "desk lamp warm light"], ["Office Chairs", "Desk Lamps", "Laptops"]),
    "home-cook": (["cast iron pan", "japanese chef knife"], ["Cookware", "Kitchen Knives", "Coffee Makers"]),
    "gym-goer": (["adjustable dumbbells", "thick yoga mat"], ["Dumbbells & Weights", "Yoga & Fitness", "Water Bottles"]),
    "music-fan": (["noise cancelling headphones", "waterproof speaker"], ["Headphones", "Bluetooth Speakers", "Smartwatches"]),
    "game-night": (["cooperative board game", "party game for adults"], ["Board Games"]),
}


def sessions(items: list[dict[str, Any]], users_per_persona: int = 2, seed: int = 11, start_ts: float = 1_700_000_000.0) -> list[dict[str, Any]]:
    """Shopper sessions: each user searches, views, clicks, adds to cart and buys within a persona."""
    rng = random.Random(seed)
    by_category: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_category.setdefault(item["category"], []).append(item)
    events = []
    ts = start_ts
    for persona, (queries, categories) in _PERSONAS.items():
        for u in range(users_per_persona):
            user = f"{persona}-{u + 1}"
            pool = [i for c in categories for i in by_category[c]]
            steps = [("search", None, queries[u % len(queries)])]
            steps += [("view", rng.choice(pool), None) for _ in range(3)]
            steps += [("click", rng.choice(pool), None), ("add_to_cart", rng.choice(pool), None)]
            steps.append(("purchase", steps[-1][1], None))
            for n, (etype, item, query) in enumerate(steps):
                ts += rng.uniform(5, 90)
                event: dict[str, Any] = {"event_id": f"{user}-e{n}", "user_id": user, "type": etype, "ts": round(ts, 3)}
                if query is not None:
                    event["query"] = query
                else:
                    event["item_id"] = item["item_id"]
                events.append(event)
    return events
