"""Message templates for the synthetic customer-service corpus (written for this project).

Slots in braces are filled by ``ner.corpora.synthetic.generator``:

- labelled: ``{ME}`` (the writer's full name), ``{FIRST}`` (the writer's first name),
  ``{PER}`` (another person), ``{AGENT}`` (the agent's first name) -> PER; ``{ORG}``;
  ``{CITY}``, ``{PLACE}`` (a city, region or country), ``{ADDRESS}``, ``{COUNTRY}`` -> LOC;
  ``{PRODUCT}``; ``{EMAIL}``; ``{PHONE}``; ``{URL}``; ``{IP}``; ``{CARD}`` (Luhn-valid) -> CREDIT_CARD;
  ``{IBAN}``; ``{ORDER}`` -> ORDER_ID; ``{MONEY}``; ``{DATE}``; ``{COURIER}`` (a parcel service) -> ORG;
- unlabelled distractors: ``{BADCARD}`` (a card number with a wrong checksum), ``{NUM}``
  (a small count), ``{TICKET}`` (a support ticket number), ``{TIME}``.

The training split uses ``TRAIN_FAMILIES`` and ``TRAIN_REPLIES``; the held-out split uses
``HELDOUT_FAMILIES`` and ``HELDOUT_REPLIES``, situations and wording the training split never sees.
"""

from __future__ import annotations

TRAIN_FAMILIES: dict[str, tuple[str, ...]] = {
    "order": (
        "Hi, I placed order {ORDER} on {DATE} for a {PRODUCT} and still have no confirmation email.",
        "Can you check the status of {ORDER}? It was {MONEY} and I ordered it on {DATE}.",
        "I want to add a second {PRODUCT} to my order {ORDER} before it ships to {CITY}.",
        "Order {ORDER} shows the wrong quantity: I asked for {NUM} units, not one.",
        "Please change the shipping address of {ORDER} to {ADDRESS}, {CITY}.",
        "My name is {ME} and I need a copy of the invoice for order {ORDER}.",
        "hello, is the {PRODUCT} in stock again? I'd like to order {NUM} of them for our office in {CITY}.",
        "I was charged {MONEY} for order {ORDER} but the site said {MONEY} at checkout.",
        "Could you cancel {ORDER}? I ordered the {PRODUCT} twice by mistake.",
        "I ordered {NUM} items on {DATE} but only one arrived. Order number {ORDER}.",
        "Is there a discount code for the {PRODUCT}? I want to order before {DATE}.",
        "how do I see my past orders? I can't find the menu anywhere.",
    ),
    "refund": (
        "I returned the {PRODUCT} on {DATE} and I am still waiting for my refund of {MONEY}.",
        "Please refund {MONEY} to my card {CARD}, the return for {ORDER} was accepted.",
        "The refund for {ORDER} went to an old card. Can you send it to IBAN {IBAN} instead?",
        "Your colleague {PER} promised me a refund of {MONEY} on {DATE}. Nothing has arrived.",
        "I would like a refund for order {ORDER}; the {PRODUCT} stopped working after {NUM} days.",
        "Refund request: {ORDER}, amount {MONEY}, account holder {ME}, IBAN {IBAN}.",
        "Why was only {MONEY} refunded? I paid {MONEY} for the {PRODUCT}.",
        "I typed my card number wrong, it is not {BADCARD}. Please use {CARD} for the refund.",
        "{COURIER} picked up my return for {ORDER} on {DATE}; when will the {MONEY} be back on my account?",
        "The refund for {ORDER} shows as pending at {ORG}. Please check with them.",
        "Do refunds go back to the original card or can I get store credit?",
    ),
    "delivery": (
        "The courier said the parcel for {ORDER} was delivered in {CITY} but I live in {ADDRESS}.",
        "Where is my {PRODUCT}? Tracking for {ORDER} has not moved since {DATE}.",
        "Can the delivery of {ORDER} be moved to {DATE}? I will be away from {CITY} until then.",
        "The driver left the box with my neighbour {PER} at {ADDRESS}. Is that normal?",
        "Please call me on {PHONE} before delivering {ORDER}, the doorbell is broken.",
        "Does {ORG} deliver to {COUNTRY}? I want to send a {PRODUCT} to my sister in {CITY}.",
        "My order {ORDER} arrived damaged. The {PRODUCT} screen is cracked.",
        "Delivery for {ORDER} is late again. This is the {NUM} time this month.",
        "{COURIER} says the address {ADDRESS} does not exist. It does, I have lived there for years.",
        "Tracking number from {COURIER} for {ORDER} is not working. Can you resend it to {EMAIL}?",
        "Can I pick up {ORDER} at your store in {CITY} instead of waiting for {COURIER}?",
        "The parcel is stuck at the depot. What should I do?",
    ),
    "billing": (
        "I see two charges of {MONEY} on my card ending {NUM} dated {DATE}. Order {ORDER}.",
        "Please update the billing email to {EMAIL} for all invoices.",
        "Our invoice from {DATE} lists {MONEY} but the quote from {PER} said {MONEY}.",
        "Can I pay by bank transfer? Our IBAN is {IBAN} and the account holder is {ORG}.",
        "The payment with card {CARD} failed three times. What is wrong?",
        "Why does my statement show {MONEY} from {ORG} on {DATE}? I never ordered anything.",
        "Please send the VAT invoice for {ORDER} to {EMAIL}, company name {ORG}.",
        "I changed banks; the new direct debit IBAN is {IBAN} starting {DATE}.",
        "Card {CARD} was declined although I have funds. Amount was {MONEY}.",
        "Please stop charging {MONEY} every month, I cancelled on {DATE}.",
        "Where can I download my invoices? The link on {URL} is broken.",
    ),
    "account": (
        "I can't log in. The reset link goes to {EMAIL} which I no longer use.",
        "Someone logged into my account from {IP} on {DATE}. That was not me!",
        "Please change the phone number on my account to {PHONE}.",
        "The page {URL} keeps showing an error when I try to update my password.",
        "My account is under {EMAIL}, name {ME}. Please delete it and all my data.",
        "I got locked out after a login from {IP}. My username is {FIRST} and I live in {CITY}.",
        "Two-factor codes are sent to {PHONE}, but I changed my number. New one: {PHONE}.",
        "Can you merge my two accounts, {EMAIL} and {EMAIL}?",
        "I never signed up, yet I get mails at {EMAIL} from {ORG}. Remove me.",
        "My account was blocked after I changed my address to {ADDRESS}, {CITY}.",
        "How can I change my password? The settings page does not load.",
    ),
    "complaint": (
        "This is the worst service I have had from {ORG}. {PER} hung up on me twice.",
        "I have called {PHONE} {NUM} times about {ORDER} and nobody calls back.",
        "Your {PRODUCT} broke after one week and the shop in {CITY} refused to help.",
        "I am very disappointed. I paid {MONEY} and waited since {DATE} for nothing.",
        "The agent {PER} was rude and gave me ticket {TICKET} that does not exist.",
        "I will post a review on {URL} unless order {ORDER} is fixed by {DATE}.",
        "Your website {URL} charged me {MONEY} twice, I want this sorted today.",
        "{COURIER} threw my {PRODUCT} over the fence. Order {ORDER}. Unacceptable.",
        "I waited on hold for an hour at {PHONE} and then the line dropped.",
        "Nobody answers my emails. This is really frustrating.",
    ),
    "b2b": (
        "We at {ORG} would like a quote for {NUM} units of the {PRODUCT}, delivered to {ADDRESS}, {CITY}.",
        "Please invoice {ORG}, {ADDRESS}, {CITY}, {COUNTRY}. Contact: {PER}, {EMAIL}, {PHONE}.",
        "Our purchase order {ORDER} for {MONEY} needs to be split into two deliveries.",
        "{ORG} is moving offices to {CITY} on {DATE}; please update the delivery address.",
        "Can {ORG} get net 60 payment terms? Our bank details: {IBAN}.",
        "I am {ME}, procurement lead at {ORG}. We need {NUM} more {PRODUCT} licences by {DATE}.",
        "Please whitelist our office IP {IP} for the {ORG} portal at {URL}.",
        "Hello, this is {ME} from {ORG} in {CITY}. We want to open a business account.",
        "{ORG} needs {NUM} replacement {PRODUCT} units shipped by {COURIER} before {DATE}.",
        "Please send the signed contract to {PER} at {EMAIL}; our VAT number is on the invoice.",
    ),
    # Organisations and places without a cue word ("from", "at", "in"), anywhere in the sentence.
    "mentions": (
        "{ORG} sent me a letter about {ORDER} and I don't understand it.",
        "{ORG} and {ORG} both say the other one has my parcel.",
        "{PLACE} is where the parcel went, not {PLACE}.",
        "Is the {PLACE} warehouse open on {DATE}?",
        "{ORG} support never answers; {ORG} at least replies within a day.",
        "The invoice says {ORG} but I bought the {PRODUCT} on your site.",
        "{PLACE} or {PLACE}: which store has the {PRODUCT}?",
        "My bank ({ORG}) blocked the payment of {MONEY}.",
        "Last time {ORG} handled the return it took {NUM} weeks.",
        "Shipping to {PLACE} costs {MONEY}? That seems high.",
        "My mobile is {PHONE}, text me when {ORDER} ships.",
        "The help page {URL} does not say if you ship to {PLACE}.",
    ),
}

HELDOUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "warranty": (
        "My {PRODUCT} is still under warranty until {DATE}. Where do I send it for repair?",
        "The repair centre in {CITY} kept my {PRODUCT} for {NUM} weeks; reference {ORDER}.",
        "{PER} from your repair team said the fix would cost {MONEY}. Is that covered?",
        "Warranty claim for {ORDER}: the {PRODUCT} battery swells. Reach me at {PHONE}.",
        "Is the {PRODUCT} covered if I bought it from {ORG} in {COUNTRY}?",
        "I sent the broken unit with {COURIER} on {DATE}, tracking ref {ORDER}.",
    ),
    "subscription": (
        "Cancel my subscription please, it renews on {DATE} for {MONEY} and I don't use it.",
        "I was billed {MONEY} for a plan I downgraded on {DATE}. Account email {EMAIL}.",
        "Switch my plan to yearly and charge card {CARD}; the old card {BADCARD} expired.",
        "How do I pause the membership? I move to {COUNTRY} on {DATE}.",
        "Please upgrade {ORG} to the team plan and invoice {MONEY} to {EMAIL}.",
        "I never asked for the premium trial, please cancel it.",
    ),
    "fraud": (
        "There is a payment of {MONEY} to {ORG} I did not make. Card {CARD}, block it now.",
        "I received a phishing mail from {EMAIL} pretending to be you, linking to {URL}.",
        "Login alerts show {IP} in {COUNTRY}; I am in {CITY}. Please freeze the account of {ME}.",
        "A stranger called from {PHONE} asking for my IBAN {IBAN}. Was that your team?",
        "Someone ordered a {PRODUCT} to {ADDRESS}, {CITY} with my account. Order {ORDER} is not mine.",
    ),
    "relocation": (
        "From {DATE} my address is {ADDRESS}, {CITY}. Please move all open orders like {ORDER}.",
        "We relocated our warehouse to {CITY}, {COUNTRY}; pickups should go to {ADDRESS}.",
        "New contact for deliveries: {PER}, phone {PHONE}, email {EMAIL}.",
        "Please have {COURIER} deliver {ORDER} to my new place in {CITY} after {DATE}.",
    ),
    "partnership": (
        "{ORG} wants to resell the {PRODUCT} in {COUNTRY}. Who handles partner contracts?",
        "Following my call with {PER} on {DATE}: we accept the {MONEY} minimum volume.",
        "Partner portal {URL} rejects our API calls from {IP}. Our company is {ORG}.",
        "Our buyer {PER} will visit your office in {CITY} on {DATE}; please confirm at {PHONE}.",
    ),
}

HELDOUT_FAMILIES["hearsay"] = (
    "{ORG} told me you would refund {MONEY}.",
    "A friend in {PLACE} got hers at once, mine is still stuck, {PLACE} depot.",
    "{PLACE} again?! The parcel for {ORDER} keeps going back and forth.",
    "Why does {ORG} appear on my statement for {MONEY}?",
    "Not happy with {ORG}, switching to {ORG} from {DATE}.",
    "{ORG}'s driver left it outside in the rain.",
    "The {PLACE} branch said to contact you; {PLACE} said the opposite.",
    "Ordered via {ORG} (a reseller), delivered to {ADDRESS}.",
    "Moving {PLACE} -> {PLACE} on {DATE}, please update my address.",
    "Reception is on {PHONE}, ask for {PER}.",
    "Your page {URL} lists the wrong opening hours for {PLACE}.",
    "Landline {PHONE} or mobile {PHONE}, either works.",
)

# Agent turns, used in long threads.
TRAIN_REPLIES: tuple[str, ...] = (
    "Thanks {FIRST}, I can see order {ORDER}. It left our warehouse in {CITY} on {DATE}.",
    "Hello {FIRST}, I'm {AGENT} from {ORG} support. I have refunded {MONEY} to your original payment method.",
    "I've opened ticket {TICKET} for you. A colleague will call you on {PHONE}.",
    "Sorry about that, {FIRST}. Can you confirm the email on the account, is it {EMAIL}?",
    "You can follow the parcel at {URL}. Expected delivery is {DATE}.",
)
HELDOUT_REPLIES: tuple[str, ...] = (
    "Dear {FIRST}, our technician {AGENT} will contact you at {EMAIL} within {NUM} days.",
    "Understood. The charge of {MONEY} from {DATE} has been reversed, {FIRST}.",
    "I have flagged the address {ADDRESS} in {CITY}; reference {TICKET}.",
)

EMAIL_GREETINGS = ("Dear Sir or Madam,", "Hello,", "Dear support team,", "Hi there,", "Good morning,")
EMAIL_CLOSINGS = ("Kind regards,", "Best regards,", "Thanks,", "Regards,", "Many thanks,", "Cheers,")
SUBJECTS = ("Question about my order", "Refund", "Urgent: account", "Invoice", "Delivery problem", "Complaint")
CHAT_OPENERS = ("", "", "hi, ", "Hello! ", "hey ", "Hi team, ", "Quick question: ")
CHAT_CLOSERS = ("", "", " Thanks!", " thx", " Please help.", " Thank you.")

# Invented brand names; the held-out split uses brands the training split never sees.
PRODUCT_BRANDS = (
    "Aurora", "Kestrel", "Novalink", "Brightwave", "Solace", "Tervo", "Quillon", "Mistral",
    "Halcyon", "Voxa", "Luma", "Orbit", "Pinecrest", "Zephyr", "Cobalt", "Ember",
    "Arlo", "Veranda", "Nimbus", "Sable", "Tundra", "Corvid", "Lumen", "Ostara",
)  # fmt: skip
HELDOUT_PRODUCT_BRANDS = ("Marlow", "Quartzline", "Helio", "Brisa", "Ferro", "Nordkap", "Vela", "Ashgrove")
COURIERS = ("DHL", "UPS", "FedEx", "DPD", "Royal Mail", "Hermes", "GLS", "Evri", "PostNL", "La Poste", "USPS")
HELDOUT_COURIERS = ("InPost", "Chronopost", "Correos", "An Post", "Bpost")
PRODUCT_LINES = ("Pro", "Air", "Max", "Mini", "Go", "Studio", "Home", "One", "Flex", "Ultra", "")
PRODUCT_NOUNS = (
    "headphones", "router", "laptop", "blender", "smart watch", "vacuum", "speaker", "tablet",
    "camera", "kettle", "monitor", "e-bike", "printer", "phone",
)  # fmt: skip
CURRENCY_FORMATS = ("${amount}", "€{amount}", "£{amount}", "{amount} EUR", "{amount} USD", "{amount} GBP", "{amount}€")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip

# Invented organisation names; the held-out split uses parts the training split never sees.
ORG_HEADS = (
    "Northwind", "Bluefin", "Redwood", "Harbor", "Silverline", "Greenleaf", "Ironbridge", "Brightpath",
    "Oakmont", "Westfield", "Crescent", "Summit", "Falconer", "Riverside",
)  # fmt: skip
ORG_TAILS = (
    "Logistics", "Traders", "Systems", "Bank", "Insurance", "Telecom", "Energy", "Foods", "Media", "Labs",
    "Ltd", "Inc", "GmbH", "Solutions", "Services", "Retail", "Motors", "Health", "Travel", "Outfitters",
)  # fmt: skip
# Parts the training split joins into invented one-word names ("Stonebrook"), so that the tagger
# learns organisations from where they stand in a message more than from a list of names.
ORG_HEAD_STARTS = ("Stone", "Clear", "Swift", "High", "Star", "Lake", "Fox", "Pine", "Maple", "Cedar", "Gold", "Elm")
ORG_HEAD_ENDS = ("brook", "view", "well", "wick", "ford", "haven", "crest", "ridge", "dale", "stone", "works", "mark")
HELDOUT_ORG_HEADS = ("Copperfield", "Larkspur", "Fjordline", "Tidewater", "Saffron", "Eastgate", "Marigold", "Quayside")
HELDOUT_ORG_TAILS = ("Holdings", "Group", "Partners", "Pharma", "Airlines", "Realty", "Broadband", "Mutual")

# Links written without a scheme (the other half of {URL} comes from Faker, with http(s):// and www.).
URL_SUFFIXES = ("com", "net", "org", "de", "fr", "es", "it", "nl", "eu", "info")
URL_PATHS = ("/returns", "/help", "/account/orders", "/contact", "/track")
HELDOUT_URL_SUFFIXES = ("co.uk", "io", "com.au", "shop", "org.uk", "co.in", "pl", "ie", "app", "store")
HELDOUT_URL_PATHS = ("", "", "/faq", "/help?x=1", "/orders/status?id=42", "/returns-policy", ":8443/portal")

# What stands before the phone number in an e-mail signature.
SIGNATURE_PHONE_LABELS = ("", "", "Tel: ", "Phone: ", "Tel. ")
HELDOUT_SIGNATURE_PHONE_LABELS = ("", "", "Mobile: ", "M: ", "Cell ")
