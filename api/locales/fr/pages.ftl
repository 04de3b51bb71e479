# The words of the donor-facing pages in this language (Project Fluent).

## donate

donate-title = Donnez pour défendre les immigrés
donate-intro = Votre don paie des avocats aux côtés des immigrés menacés d'expulsion.
donate-frequency = Fréquence
donate-once = Une fois
donate-monthly = Mensuel
donate-amount = Montant (dollars américains)
donate-other-amount = Autre montant
donate-fund = Affectation de votre don
donate-tribute = Donner en l'honneur ou à la mémoire de quelqu'un (facultatif)
donate-tribute-none = Sans dédicace
donate-in-honor = En l'honneur de
donate-in-memory = À la mémoire de
donate-tribute-name = Nom de la personne honorée
donate-notify-name = Qui devons-nous prévenir ? (nom)
donate-notify-email = Adresse e-mail de cette personne
donate-tribute-show-amount = Lui indiquer le montant de mon don
donate-about-you = Vos coordonnées
donate-name = Votre nom
donate-email = Votre adresse e-mail
donate-consent = M'envoyer des nouvelles et des appels par e-mail
donate-anonymous = Garder mon don anonyme
donate-submit = Continuer vers le paiement sécurisé
donate-secure = Vous paierez sur la page sécurisée de Stripe. Nous ne voyons jamais votre numéro de carte.
donate-errors-heading = Veuillez corriger ce qui suit :
donate-err-frequency = Choisissez une fois ou mensuel.
donate-err-amount = Choisissez un montant ou saisissez-le, par exemple 25 ou 25,50.
donate-err-amount-range = Le montant doit être d'au moins 1,00 $ et d'au plus 100 000,00 $.
donate-err-fund = Choisissez l'affectation de votre don.
donate-err-tribute-kind = Choisissez « en l'honneur de » ou « à la mémoire de ».
donate-err-tribute-name = Indiquez le nom de la personne honorée.
donate-err-notify-name = Indiquez le nom de la personne à prévenir sur une ligne, 200 caractères au plus.
donate-err-notify-email = Indiquez une adresse e-mail valide pour la personne à prévenir, ou laissez vide.
donate-err-name = Indiquez votre nom.
donate-err-email = Indiquez une adresse e-mail valide, comme nom@exemple.org.
donate-unavailable = Nous n'avons pas pu joindre notre prestataire de paiement, et rien n'a été débité. Réessayez dans un instant.
donate-raised = collectés
donate-goal = objectif
donate-thanks-title = Merci
donate-thanks-paid = Votre don a bien été reçu. Votre reçu arrive par e-mail.
donate-thanks-processing = Votre paiement est en cours de traitement. Nous vous enverrons votre reçu dès qu'il sera terminé.
donate-thanks-failed = Votre paiement n'a pas abouti, et rien n'a été débité.
donate-thanks-unknown = Nous confirmons votre don auprès de notre prestataire de paiement. Votre reçu arrivera par e-mail.
donate-cancelled-title = Votre don n'a pas été finalisé
donate-cancelled-body = Rien n'a été débité. Vous pouvez réessayer quand vous voulez.
donate-try-again = Réessayer
donate-required = obligatoire

## manage

manage-title = Vos engagements de don
manage-invalid = Ce lien n’est pas valide. Utilisez le lien le plus récent que nous vous avons envoyé.
manage-expired = Ce lien a expiré. Notre prochain courriel en apportera un nouveau, ou écrivez-nous.
manage-none = Vous n’avez aucun engagement de don.
manage-unavailable = Cette page n’est pas disponible pour le moment. Réessayez dans quelques minutes.
manage-month = par mois
manage-quarter = par trimestre
manage-year = par an
manage-since = depuis le
manage-active = actif
manage-paused = en pause
manage-past-due = paiement en attente
manage-cancelled = annulé
manage-completed = terminé
manage-new-amount = Nouveau montant
manage-change-amount = Changer le montant
manage-pause = Mettre en pause
manage-resume = Reprendre
manage-confirm-cancel = Oui, annuler cet engagement
manage-cancel = Annuler l’engagement
manage-update-card = Mettre à jour ma carte
manage-done-here = C’est fait. Votre engagement est à jour. Merci.
manage-done-at-processor = Merci. Votre changement a été transmis à notre prestataire de paiement et apparaîtra ici d’ici quelques minutes.
manage-bad-amount = Indiquez le nouveau montant en dollars, par exemple 42 ou 42,50.
manage-needs-confirmation = Pour annuler, cochez la case de confirmation.
manage-cannot-change = Cet engagement ne peut pas changer ainsi pour le moment.
manage-no-card = Nous n’avons aucune carte enregistrée à votre nom.
manage-try-later = Nous n’avons pas pu joindre notre prestataire de paiement. Réessayez dans quelques minutes.

## guard

guard-honeypot-label = Laissez ce champ vide
guard-minimum-hint = Le don minimum sur cette page est de { $minimum }.
guard-below-minimum = Le montant doit être d'au moins { $minimum }.
guard-form-expired = Pour votre sécurité, ce formulaire a expiré. Vérifiez votre don et envoyez-le à nouveau ; rien n'a été débité.
guard-refused-title = Nous n'avons pas pu accepter ce formulaire
guard-refused-body = Ouvrez notre page de dons et envoyez votre don depuis celle-ci. Rien n'a été débité.
guard-back-to-form = Aller à la page de dons
guard-busy-title = Veuillez patienter un instant
guard-busy-body = Pour protéger les donateurs contre la fraude à la carte, nous n'acceptons que quelques dons depuis un même endroit en peu de temps. Réessayez dans { $minutes ->
    [one] environ une minute
   *[other] environ { $minutes } minutes
}. Rien n'a été débité.

## the layout and words every page shares

language-name = Français
layout-language = Langue
page-error = Un problème est survenu. Réessayez plus tard.
money = { $currency ->
    [USD] { $amount } $
   *[other] { $amount } { $currency }
}
month-1 = janvier
month-2 = février
month-3 = mars
month-4 = avril
month-5 = mai
month-6 = juin
month-7 = juillet
month-8 = août
month-9 = septembre
month-10 = octobre
month-11 = novembre
month-12 = décembre
date-long = { $day } { $month } { $year }
amount-ambiguous = Ce montant peut se lire de deux façons. Écrivez mille dollars { $thousand } et les cents après une virgule, comme dans { $example }.

## donate, more

donate-page-unavailable = La page de dons est indisponible ; réessayez dans un instant.
donate-circle-note = { $monthly } par mois vous fait entrer dans le { $circle }, pour les dons de { $yearly } ou plus par an.
donate-campaign-ended = La campagne { $campaign } est terminée : { $raised } collectés pour un objectif de { $goal }. Merci à toutes les personnes qui ont donné.

## circle

circle-untitled = Le Cercle
circle-unavailable = Cette page n’est pas disponible pour le moment.
circle-intro = Merci aux amis qui soutiennent notre travail par un engagement de { $yearly } ou plus par an.
circle-empty = Nous remercierons bientôt ici nos premiers membres.
circle-join-heading = Rejoignez-les
circle-join = Donnez { $monthly } par mois pour entrer dans le { $circle }

## manage, more

manage-since-date = depuis le { $date }

## unsubscribe

unsubscribe-title = Appels par e-mail
unsubscribe-confirm-title = Ne plus recevoir nos appels par e-mail ?
unsubscribe-confirm-body = Vous ne recevrez plus nos appels aux dons. Vos reçus et vos relevés annuels vous seront toujours envoyés.
unsubscribe-button = Me désabonner
unsubscribe-done-title = Vous êtes désabonné·e
unsubscribe-done-body = Nous ne vous enverrons plus d’appels. Les reçus de vos dons vous parviendront toujours.
unsubscribe-gone = Nous n’avons plus cette adresse dans nos dossiers ; aucun appel ne lui parviendra.
unsubscribe-invalid = Ce lien de désabonnement n’est pas valide. Répondez à l’un de nos e-mails et nous les arrêterons.
