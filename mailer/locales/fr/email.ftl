# Les mots des courriels en français. Chaque id existe aussi dans les autres langues.

## Le cadre de tous les courriels

greeting-named = Bonjour { $name },
greeting-unnamed = Chère donatrice, cher donateur,
footer-why = Vous recevez ce message parce que vous soutenez { $org }.
unsubscribe-line = Pour ne plus recevoir d'appels (vous recevrez toujours vos reçus) :

# Un lien dans la partie texte : son libellé puis l’adresse (deux-points collés, comme
# dans une adresse, pour que le lien reste lisible par les logiciels de courriel).
link-line = { $label }: { $url }

## Montants : le symbole après le nombre, séparé par une espace insécable

amount = { $sign }{ $number }{"\u00A0"}{ $symbol }{ $code ->
    [none] {""}
   *[other] {" "}{ $code }
}

pledge-amount = { $frequency ->
    [monthly] { $amount } par mois
    [quarterly] { $amount } par trimestre
   *[yearly] { $amount } par an
}

tier-circle-of-friends = Cercle des amis

## Appel

appeal-give = Faites un don aujourd’hui
appeal-club-invitation = Rejoignez notre Club des donateurs mensuels : avec { $monthly } par mois, vous entrez dans notre { $circle }.

## Reçu et relevé annuel

receipt-gift-subject = Votre reçu { $number } de { $org }
receipt-statement-subject = Votre relevé de dons { $year } ({ $number }) de { $org }
receipt-gift-intro = Merci pour votre don. Votre reçu fiscal figure ci-dessous et en pièce jointe (PDF).
receipt-statement-intro = Merci pour votre générosité cette année. Votre relevé annuel de dons figure ci-dessous et en pièce jointe (PDF).
receipt-file-prefix = recu
receipt-download-link = Téléchargez le PDF (lien valable 30 jours)

## Reçu annulé

receipt-voided-subject = Le reçu { $number } a été annulé
receipt-voided-body = Le reçu { $number } de { $amount } a été annulé. Motif : { $reason }.
receipt-voided-replaced = Il est remplacé par le reçu { $replacement }, envoyé séparément.
receipt-void-reason-refunded-in-full = votre don vous a été remboursé en totalité
receipt-void-reason-refunded-in-part = { $amount } de votre don vous ont été remboursés
receipt-void-reason-refund-failed = un remboursement de votre don n’a pas abouti, le don compte donc de nouveau
receipt-void-reason-gift-corrected = les détails de votre don ont été corrigés
receipt-void-reason-payment-reversed = votre banque a annulé le paiement
receipt-void-reason-gift-added = un don de votre part de cette année-là nous est parvenu après l’émission de ce relevé

## Bienvenue au Club des donateurs mensuels

club-welcome-subject = Bienvenue au Club des donateurs mensuels
club-welcome-thanks = Merci de votre engagement de { $pledge } envers { $org }.
club-welcome-steady = Votre soutien régulier nous permet de prévoir et de défendre plus de familles.
club-welcome-link = Voir ou modifier votre engagement

## Bienvenue dans un niveau

tier-welcome-subject = Bienvenue dans le { $tier }
tier-welcome-body = Vos engagements de don vous font désormais entrer dans le { $tier }. Merci de votre générosité.
tier-welcome-link = Voir vos engagements

## Un paiement mensuel qui a échoué

payment-failed-subject = Nous n’avons pas pu traiter votre don mensuel
payment-failed-body = Le paiement de votre engagement de { $pledge } n’a pas abouti.
payment-failed-retry = Vous pouvez mettre à jour votre carte avec le lien ci-dessous ; nous réessaierons.
payment-failed-link = Mettre à jour votre carte

## Un engagement annulé

pledge-cancelled-subject = Votre engagement de don a été annulé
pledge-cancelled-body = Votre engagement de { $pledge } envers { $org } a été annulé. Merci pour tout ce que vous avez donné.
pledge-cancelled-return = Si vous souhaitez revenir, vous pouvez reprendre à tout moment.
pledge-cancelled-link = Donner à nouveau

## Un don en l'honneur ou à la mémoire de quelqu'un

tribute-subject = { $kind ->
    [memory] Un don à la mémoire de { $honoree }
   *[honor] Un don en l'honneur de { $honoree }
}
tribute-gift = { $kind ->
    [memory] { $who } a fait un don à { $org } à la mémoire de { $honoree }.
   *[honor] { $who } a fait un don à { $org } en l'honneur de { $honoree }.
}
tribute-anonymous = Une personne amie
tribute-amount = Le montant du don est de { $amount }.
tribute-closing = Avec gratitude, nous tenions à vous faire part de ce geste.
